"""Coverage views on the bundled graph, for every strategy and every reachable backend."""

from __future__ import annotations

from collections import Counter

import pytest

from kgprune.errors import ConfigError
from kgprune.kg import bundled
from kgprune.kg.coverage import CoverageView, Strategy, stable_unit
from kgprune.kg.records import Fact
from kgprune.kg.store import GraphStore

SAMPLED = [Strategy.EDGE, Strategy.CONCEPT, Strategy.RELATION, Strategy.WALK]


@pytest.fixture
def kg(store: GraphStore) -> GraphStore:
    bundled.load_bundled(store)
    return store


def _facts(store: GraphStore, view: CoverageView) -> dict[str, Fact]:
    return {f.edge_id: f for f in store.sample_facts(limit=100_000, view=view)}


@pytest.mark.parametrize("strategy", SAMPLED)
def test_views_are_nested_per_seed_and_differ_across_seeds(kg: GraphStore, strategy: Strategy) -> None:
    full = _facts(kg, CoverageView())
    for seed in (0, 1):
        levels = [_facts(kg, CoverageView(c, seed, strategy)).keys() for c in (0.0, 0.25, 0.5, 1.0)]
        assert not levels[0]
        assert levels[1] <= levels[2] <= levels[3] == full.keys()
        assert 0 < len(levels[1]) < len(levels[2]) < len(full)
    assert _facts(kg, CoverageView(0.5, 0, strategy)) != _facts(kg, CoverageView(0.5, 1, strategy))


def test_edge_view_keeps_about_its_share(kg: GraphStore) -> None:
    total = kg.stats().facts
    for level in (0.25, 0.5, 0.75):
        kept = kg.stats(CoverageView(level, 3)).facts
        assert abs(kept - level * total) < 0.05 * total


def test_relation_view_keeps_exactly_its_share_of_each_relation(kg: GraphStore) -> None:
    full = kg.stats().by_relation
    half = kg.stats(CoverageView(0.5, 2, Strategy.RELATION)).by_relation
    for relation, n in full.items():
        assert half.get(relation, 0) == round(0.5 * n), relation


def test_concept_view_is_an_induced_subgraph(kg: GraphStore) -> None:
    view = CoverageView(0.6, 1, Strategy.CONCEPT)
    kept = _facts(kg, view)
    concepts = {c.uri for batch in kg.iter_concepts(view=view) for c in batch}
    assert concepts and all(view.rotate(stable_unit(c)) < 0.6 for c in concepts)
    assert all(f.head in concepts and f.tail in concepts for f in kept.values())
    among = {f.edge_id for f in kg.facts_among(sorted(concepts), limit=100_000)}
    assert among == kept.keys(), "every fact among kept concepts is kept"


def _components(facts: list[Fact]) -> int:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for f in facts:
        parent[find(f.head)] = find(f.tail)
    return len({find(x) for x in parent})


def test_walk_view_keeps_neighbourhoods_connected(kg: GraphStore) -> None:
    walk = list(_facts(kg, CoverageView(0.2, 5, Strategy.WALK)).values())
    edge = list(_facts(kg, CoverageView(0.2, 5, Strategy.EDGE)).values())
    assert abs(len(walk) - len(edge)) < 0.05 * len(edge)
    assert _components(walk) < _components(edge) / 3


def test_source_view_keeps_one_source(kg: GraphStore) -> None:
    vg = kg.stats(CoverageView(1.0, 0, Strategy.SOURCE, source="visual_genome"))
    assert vg.by_source == {"visual_genome": kg.stats().by_source["visual_genome"]}
    cn_half = kg.stats(CoverageView(0.5, 0, Strategy.SOURCE, source="conceptnet"))
    assert set(cn_half.by_source) == {"conceptnet"}
    assert cn_half.facts < kg.stats().by_source["conceptnet"]


def test_every_read_path_honours_the_view(kg: GraphStore) -> None:
    view = CoverageView(0.3, 4, Strategy.WALK)
    kept = _facts(kg, view).keys()
    for term in ("/c/en/cup", "/c/en/dog", "/c/en/table"):
        for hops in (1, 2):
            assert {f.edge_id for f in kg.neighbors(term, hops=hops, limit=200, view=view)} <= kept
    among = kg.facts_among(["/c/en/cup", "/c/en/table", "/c/en/kitchen", "/c/en/mug"], view=view)
    assert {f.edge_id for f in among} <= kept
    ends = Counter(u for f in _facts(kg, view).values() for u in (f.head, f.tail))
    assert {c.uri for b in kg.iter_concepts(view=view) for c in b} == set(ends)


def test_a_limited_read_in_a_walk_view_is_the_best_of_the_view(kg: GraphStore) -> None:
    """The limit applies after the view: the strongest facts the view keeps, none it dropped."""
    view = CoverageView(0.3, 4, Strategy.WALK)
    kept = _facts(kg, view).keys()
    for term in ("/c/en/cup", "/c/en/dog", "/c/en/table"):
        every = [f for f in kg.neighbors(term, limit=10_000) if f.edge_id in kept]
        best = sorted(every, key=lambda f: (-f.weight, f.edge_id))[:2]
        assert len(best) == 2 < len(every), term
        assert kg.neighbors(term, limit=2, view=view) == best


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [({"level": 1.5}, "K010"), ({"strategy": "snowball"}, "K018"),
     ({"strategy": "source"}, "K017"), ({"source": "conceptnet"}, "K017")],
)
def test_bad_views_are_refused(kwargs: dict, code: str) -> None:
    with pytest.raises(ConfigError, match=code):
        CoverageView(**kwargs)
