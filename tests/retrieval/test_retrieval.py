from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kgprune.errors import ConfigError
from kgprune.kg import bundled
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.coverage import CoverageView, Strategy
from kgprune.kg.records import Concept, Fact, assertion_uri
from kgprune.kg.store import GraphBatch
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.linker import Linker
from kgprune.retrieval.cache import RetrievalCache
from kgprune.retrieval.facts import (
    FactEmbeddings,
    FactRetriever,
    KnowledgeContext,
    RetrievalConfig,
    RetrievalQuery,
)
from kgprune.retrieval.relation_detector import RelationDetector


def _answers(ctx: KnowledgeContext) -> set[str]:
    return {a.text for a in ctx.answers}


def test_known_facts_are_found_and_become_answers(bundled_store, linker, detector) -> None:
    r = FactRetriever(bundled_store, linker, detector)
    umbrella = r.retrieve(RetrievalQuery("u", "What is this used for?", ("umbrella",)))
    assert umbrella.image_concepts == ("/c/en/umbrella",)
    assert {"stay dry", "block sun"} <= _answers(umbrella)
    assert abs(sum(a.weight for a in umbrella.answers) - 1.0) < 1e-9
    assert all(f.relation == "UsedFor" for f in umbrella.facts[:3])
    for a in umbrella.answers:
        assert all(edge in {f.edge_id for f in bundled_store.neighbors("/c/en/umbrella", limit=500)}
                   for edge in a.support)

    bread = r.retrieve(RetrievalQuery("b", "What is used to cut bread?"))
    assert "knife" in _answers(bread)

    toaster = r.retrieve(RetrievalQuery("t", "Where would you usually find this?", ("toaster",)))
    assert "kitchen" in _answers(toaster)


def test_answers_come_only_from_the_asked_relation(bundled_store, linker, detector) -> None:
    ctx = FactRetriever(bundled_store, linker, detector).retrieve(
        RetrievalQuery("d", "What kind of animal is this?", ("dog",)))
    supported = {e for a in ctx.answers for e in a.support}
    relations = {f.relation for f in bundled_store.neighbors("/c/en/dog", limit=500) if f.edge_id in supported}
    assert relations == {"IsA"}
    assert "canine" in _answers(ctx)


def test_no_concepts_no_facts(bundled_store, linker, detector) -> None:
    ctx = FactRetriever(bundled_store, linker, detector).retrieve(RetrievalQuery("z", "zxqv blorp?"))
    assert ctx.facts == () and ctx.answers == ()


def test_coverage_views_shrink_results_and_are_nested(bundled_store, linker, detector) -> None:
    query = RetrievalQuery("c", "What is this used for?", ("cup",))
    def facts(view: CoverageView) -> set[str]:
        cfg = RetrievalConfig(top_k=1000)
        return {f.edge_id for f in FactRetriever(bundled_store, linker, detector, config=cfg, view=view).retrieve(query).facts}
    full = facts(CoverageView())
    for strategy in (Strategy.EDGE, Strategy.RELATION, Strategy.WALK):
        quarter = facts(CoverageView(0.25, 1, strategy))
        half = facts(CoverageView(0.5, 1, strategy))
        assert quarter <= half <= full, strategy
        assert len(quarter) < len(full), strategy


def test_cache_hits_and_is_invalidated_when_the_kg_changes(tmp_path: Path, detector) -> None:
    store = LadybugStore(tmp_path / "bundled_store.lbdb")
    store.ensure_schema()
    bundled.load_bundled(store)
    cache = RetrievalCache(tmp_path / "cache.sqlite", kg_version=store.version())
    r = FactRetriever(store, Linker(store), detector, cache=cache)
    query = RetrievalQuery("s1", "What is this used for?", ("kettle",))
    first = r.retrieve(query)
    assert len(cache) == 1
    assert r.retrieve(query) == first

    kettle_use = Fact(head="/c/en/kettle", relation="UsedFor", tail="/c/en/warm_hands_quickly", weight=9.0,
                      source="conceptnet", dataset="/d/test",
                      edge_id=assertion_uri("UsedFor", "/c/en/kettle", "/c/en/warm_hands_quickly"))
    store.write(GraphBatch(concepts=[Concept("/c/en/warm_hands_quickly", "warm hands quickly", "en")], facts=[kettle_use]))
    fresh = r.retrieve(query)
    assert fresh.kg_version != first.kg_version
    assert fresh.answers[0].text == "warm hands quickly"
    reopened = RetrievalCache(tmp_path / "cache.sqlite", kg_version=store.version())
    assert len(reopened) == 1, "entries of the old KG version were dropped"
    store.close()


def test_context_round_trips_through_json(bundled_store, linker, detector) -> None:
    import json
    ctx = FactRetriever(bundled_store, linker, detector).retrieve(
        RetrievalQuery("j", "What is the hot dog on the plate made of?"))
    assert KnowledgeContext.from_dict(json.loads(json.dumps(ctx.to_dict()))) == ctx


class _CountingEncoder(HashingEncoder):
    """Counts the texts it is asked to encode."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += texts
        return super().encode(texts)


def test_each_fact_text_is_encoded_once_and_ranking_is_unchanged(
        bundled_store, linker, detector) -> None:
    """Questions about the same objects share neighbourhoods: their facts are embedded once."""
    queries = [RetrievalQuery(f"q{i}", question, (obj,)) for i, (question, obj) in enumerate(
        [("What is this used for?", "umbrella"), ("What is this made of?", "umbrella"),
         ("Where would you usually find this?", "umbrella"), ("What is this used for?", "knife")])]
    encoder = _CountingEncoder()
    memo = FactRetriever(bundled_store, linker, RelationDetector(encoder))
    ranked = memo.retrieve_batch(queries)
    encoded = Counter(encoder.texts)
    kept = [t for t in encoded if t in memo.embeddings]
    assert len(memo.embeddings) == len(kept) > 20, "the umbrella's facts recur across questions"
    assert all(encoded[text] == 1 for text in kept)
    fresh = [FactRetriever(bundled_store, linker, detector).retrieve(q) for q in queries]
    assert [c.facts for c in ranked] == [c.facts for c in fresh]
    assert [c.answers for c in ranked] == [c.answers for c in fresh]

    small = FactEmbeddings(HashingEncoder(), size=5)
    tight = FactRetriever(bundled_store, linker, detector, embeddings=small)
    assert [c.facts for c in tight.retrieve_batch(queries)] == [c.facts for c in fresh]
    assert len(small) == 5


def test_full_views_share_one_cache_entry_whatever_their_seed(tmp_path: Path, bundled_store,
                                                                linker, detector) -> None:
    """A study's seeds all read the full graph alike: seed 3's full view is answered from seed 0's
    retrieval; partial views keep their seed, since it picks their subgraph."""
    cache = RetrievalCache(tmp_path / "cache.sqlite", kg_version=bundled_store.version())
    query = RetrievalQuery("s1", "What is this used for?", ("cup",))

    def retriever(view: CoverageView) -> FactRetriever:
        return FactRetriever(bundled_store, linker, detector, cache=cache, view=view)

    first = retriever(CoverageView()).retrieve(query)
    assert retriever(CoverageView(1.0, 3, Strategy.WALK)).retrieve(query) == first
    assert len(cache) == 1
    for seed in (0, 3):
        retriever(CoverageView(0.5, seed, Strategy.EDGE)).retrieve(query)
    assert len(cache) == 3
    assert CoverageView(1.0, 3, Strategy.WALK).canonical() == CoverageView()
    partial = CoverageView(0.5, 3, Strategy.WALK)
    assert partial.canonical() is partial


def test_views_share_fact_embeddings(bundled_store, linker) -> None:
    """A coverage study retrieves the same questions under many views: facts are embedded once."""
    encoder = _CountingEncoder()
    shared = FactEmbeddings(encoder)
    query = RetrievalQuery("u", "What is this used for?", ("umbrella",))
    for level in (1.0, 0.5):
        view = CoverageView(level, seed=0, strategy=Strategy.EDGE)
        FactRetriever(bundled_store, linker, RelationDetector(encoder), view=view,
                      embeddings=shared).retrieve(query)
    facts = [t for t in encoder.texts if t in shared]
    assert facts and len(facts) == len(set(facts)), "the half view reused the full view's facts"


def test_embeddings_of_another_encoder_are_refused(bundled_store, linker, detector) -> None:
    other = FactEmbeddings(HashingEncoder(dim=64))
    with pytest.raises(ConfigError, match=r"\[K112\]"):
        FactRetriever(bundled_store, linker, detector, embeddings=other)


def test_samples_asking_the_same_thing_share_one_retrieval(bundled_store, linker) -> None:
    same = ("What is this used for?", ("umbrella",))
    queries = [RetrievalQuery("a", *same), RetrievalQuery("b", "What is this made of?", ("umbrella",)),
               RetrievalQuery("c", *same)]
    encoder = _CountingEncoder()
    contexts = FactRetriever(bundled_store, linker, RelationDetector(encoder)).retrieve_batch(queries)
    assert encoder.texts.count(same[0]) == 1, "the repeated question was encoded once"
    assert [c.sample_id for c in contexts] == ["a", "b", "c"]
    assert replace(contexts[2], sample_id="a") == contexts[0] and contexts[0].answers


def test_the_cache_tells_apart_samples_that_share_an_id(tmp_path: Path, bundled_store, linker,
                                                        detector) -> None:
    """Benchmark variants reuse question ids, and grounding changes a sample's objects."""
    cache = RetrievalCache(tmp_path / "cache.sqlite", kg_version=bundled_store.version())
    r = FactRetriever(bundled_store, linker, detector, cache=cache)
    kettle = r.retrieve(RetrievalQuery("7", "What is this used for?", ("kettle",)))
    umbrella = r.retrieve(RetrievalQuery("7", "What is this used for?", ("umbrella",)))
    assert kettle.image_concepts == ("/c/en/kettle",)
    assert umbrella.image_concepts == ("/c/en/umbrella",) and len(cache) == 2
