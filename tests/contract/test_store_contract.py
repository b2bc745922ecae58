"""The behaviour every `GraphStore` backend owes: run against each reachable backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from kgprune.errors import ConfigError
from kgprune.kg.coverage import CoverageView
from kgprune.kg.ingest import load_conceptnet, load_visual_genome
from kgprune.kg.records import Concept, Fact, assertion_uri
from kgprune.kg.store import GraphBatch, GraphStore


@pytest.fixture
def loaded(store: GraphStore, conceptnet_csv: Path, vg_dir: Path) -> GraphStore:
    load_conceptnet(store, conceptnet_csv)
    load_visual_genome(store, vg_dir)
    return store


def test_stats_count_what_the_fixture_holds(loaded: GraphStore) -> None:
    stats = loaded.stats()
    # 19 rows: 1 ExternalURL, 3 non-English, 1 duplicate after sense collapse -> 14 facts.
    assert stats.by_source == {"conceptnet": 14, "visual_genome": 5}
    assert stats.facts == 19
    assert stats.by_relation["AtLocation"] == 5  # 2 ConceptNet + 3 Visual Genome (on, sitting on)
    assert stats.by_relation["dbpedia/genre"] == 1
    assert stats.concepts == 28
    assert (stats.images, stats.objects, stats.object_relations) == (2, 8, 5)


def test_loading_twice_adds_nothing(loaded: GraphStore, conceptnet_csv: Path, vg_dir: Path) -> None:
    before = loaded.stats()
    version = loaded.version()
    assert version
    again = load_conceptnet(loaded, conceptnet_csv)
    vg_again = load_visual_genome(loaded, vg_dir)
    assert again.facts_added == again.concepts_added == 0
    assert vg_again.objects_added == vg_again.facts_added == 0
    assert loaded.stats() == before
    assert loaded.version() == version


def test_neighbors_are_ordered_by_weight_then_edge_id(loaded: GraphStore) -> None:
    facts = loaded.neighbors("/c/en/cup", limit=50)
    keys = [(-f.weight, f.edge_id) for f in facts]
    assert keys == sorted(keys)
    assert all("/c/en/cup" in (f.head, f.tail) for f in facts)
    assert {f.relation for f in facts} >= {"UsedFor", "AtLocation", "IsA", "MadeOf", "LocatedNear"}
    plate = [f for f in facts if f.head == "/c/en/plate"]
    assert plate and plate[0].tail == "/c/en/cup" and plate[0].predicate == "next to"


def test_neighbors_relation_filter_hops_and_limit(loaded: GraphStore) -> None:
    used_for = loaded.neighbors("/c/en/cup", relations=["UsedFor"])
    assert [(f.head, f.tail) for f in used_for] == [("/c/en/cup", "/c/en/drink_coffee")]
    one_hop = loaded.neighbors("/c/en/coffee_cup", hops=1)
    two_hop = loaded.neighbors("/c/en/coffee_cup", hops=2)
    assert len(one_hop) == 1 and two_hop[:1] == one_hop
    assert any(f.head == "/c/en/cup" for f in two_hop[1:]), "cup reached through table"
    assert len(loaded.neighbors("/c/en/cup", limit=2)) == 2
    with pytest.raises(ConfigError):
        loaded.neighbors("/c/en/cup", hops=3)
    with pytest.raises(ConfigError):
        loaded.neighbors("/c/en/cup", relations=["IsA; DROP"])


def test_merged_duplicate_keeps_the_stronger_assertion(loaded: GraphStore) -> None:
    isa = loaded.neighbors("/c/en/cup", relations=["IsA"])
    assert len(isa) == 1
    fact = isa[0]
    assert fact.weight == 2.0 and fact.dataset == "/d/wordnet/3.1"
    assert set(fact.contributors) == {"/s/resource/wordnet/rdf/3.1", "/s/contributor/omcs/erin"}
    assert fact.edge_id == assertion_uri("IsA", "/c/en/cup", "/c/en/container")


def test_sense_tags_collapse_to_terms_with_pos(loaded: GraphStore) -> None:
    [dog] = loaded.get_concepts(["/c/en/dog"])
    assert dog.pos == "n" and dog.name == "dog"
    [animal] = loaded.get_concepts(["/c/en/animal"])
    assert animal.uri == "/c/en/animal"
    assert not loaded.get_concepts(["/c/en/dog/n/wn/animal", "/c/en/act", "/c/en/nothing_here"])


def test_facts_among_a_set_of_concepts(loaded: GraphStore) -> None:
    facts = loaded.facts_among(["/c/en/cup", "/c/en/table", "/c/en/plate"])
    triples = {(f.head, f.relation, f.tail, f.source) for f in facts}
    assert triples == {
        ("/c/en/cup", "AtLocation", "/c/en/table", "conceptnet"),
        ("/c/en/cup", "AtLocation", "/c/en/table", "visual_genome"),
        ("/c/en/plate", "LocatedNear", "/c/en/cup", "visual_genome"),
    }
    only = loaded.facts_among(["/c/en/cup", "/c/en/plate"], relations=["LocatedNear"])
    assert [(f.head, f.tail) for f in only] == [("/c/en/plate", "/c/en/cup")]


def test_iter_concepts_yields_every_concept_in_batches(loaded: GraphStore) -> None:
    batches = list(loaded.iter_concepts(batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 8]
    uris = [c.uri for b in batches for c in b]
    assert len(set(uris)) == 28 and "/c/en/drink_coffee" in uris
    sources = {c.uri: c.source for b in batches for c in b}
    assert sources["/c/en/frisbee"] == "visual_genome" and sources["/c/en/cup"] == "conceptnet"


def test_coverage_views_are_nested_and_rotate_with_the_seed(loaded: GraphStore) -> None:
    def edges(level: float, seed: int) -> set[str]:
        view = CoverageView(level, seed)
        return {f.edge_id for f in loaded.sample_facts(limit=1000, view=view)}

    full = edges(1.0, 0)
    assert len(full) == 19 and edges(0.0, 0) == set()
    for seed in (0, 1, 2):
        quarter, half = edges(0.25, seed), edges(0.5, seed)
        assert quarter <= half <= full
        assert len(half) < len(full)
    assert edges(0.5, 0) != edges(0.5, 1)
    half_view = CoverageView(0.5, 1)
    stats = loaded.stats(half_view)
    assert stats.facts == len(edges(0.5, 1)) == sum(stats.by_relation.values())
    assert stats.concepts < loaded.stats().concepts
    in_view = {c.uri for b in loaded.iter_concepts(view=half_view) for c in b}
    assert len(in_view) == stats.concepts
    for f in loaded.neighbors("/c/en/cup", limit=50, view=half_view):
        assert f.edge_id in edges(0.5, 1)


NASTY = ['say "cheese"', "back\\slash", "tick`s", "new\nline", "comma, here", "emoji 😀 ü", "x'y", "\\n"]


def test_names_with_quotes_backslashes_and_unicode_round_trip(store: GraphStore) -> None:
    concepts = [Concept(uri=f"/c/en/n{i}_{name}", name=name, lang="en") for i, name in enumerate(NASTY)]
    facts = [
        Fact(head=concepts[i].uri, relation="RelatedTo", tail=concepts[i + 1].uri, weight=1.0,
             source="conceptnet", dataset="/d/test", surface_text=f"[[{NASTY[i]}]] ~ [[x]]",
             contributors=(NASTY[i],),
             edge_id=assertion_uri("RelatedTo", concepts[i].uri, concepts[i + 1].uri))
        for i in range(len(NASTY) - 1)
    ]
    counts = store.write(GraphBatch(concepts=concepts, facts=facts))
    assert (counts.concepts, counts.facts) == (len(NASTY), len(NASTY) - 1)
    back = {c.uri: c for c in store.get_concepts([c.uri for c in concepts])}
    assert back == {c.uri: c for c in concepts}
    got = {f.edge_id: f for f in store.facts_among([c.uri for c in concepts])}
    assert got == {f.edge_id: f for f in facts}


def test_fact_with_unknown_relation_is_refused_and_nothing_is_written(store: GraphStore) -> None:
    a, b = Concept("/c/en/a", "a", "en"), Concept("/c/en/b", "b", "en")
    bad = Fact(head=a.uri, relation="LikesToEat", tail=b.uri, weight=1.0, source="conceptnet",
               dataset="", edge_id="/a/x")
    with pytest.raises(ConfigError):
        store.write(GraphBatch(concepts=[a, b], facts=[bad]))
    assert store.stats().concepts == 0
    assert store.version() == ""
