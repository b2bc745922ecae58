"""Hallucination on the bundled KG: wrong answers without any supporting fact."""

from __future__ import annotations

import pytest

from kgprune.errors import ConfigError
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.linking.encoder import HashingEncoder
from kgprune.linking.linker import Linker
from kgprune.retrieval.facts import FactRetriever, KnowledgeContext, RetrievalQuery
from kgprune.retrieval.relation_detector import RelationDetector
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.hallucination import hallucination_rate

UMBRELLA = VqaSample(1, 73, "What is this used for?", ("stay dry",) * 6 + ("rain",) * 3 + ("keep dry",),
                     "ten", "other")
KNIFE = VqaSample(2, 80, "What can this do?", ("cut",) * 10, "three", "other")


@pytest.fixture(scope="module")
def retriever(bundled_store: LadybugStore) -> FactRetriever:
    encoder = HashingEncoder()
    return FactRetriever(bundled_store, Linker(bundled_store), RelationDetector(encoder))


@pytest.fixture(scope="module")
def umbrella_ctx(retriever: FactRetriever) -> KnowledgeContext:
    ctx = retriever.retrieve(RetrievalQuery("1", UMBRELLA.question, ("umbrella",)))
    assert "/c/en/umbrella" in ctx.image_concepts and {g.relation for g in ctx.relations} == {"UsedFor"}
    return ctx


@pytest.mark.parametrize(("prediction", "hallucinated"), [
    ("keep rain off", False),   # wrong, but umbrella UsedFor keep_rain_off
    ("block the sun", False),   # articles and case do not matter: /c/en/block_sun
    ("fly", True),              # a real concept, linked to nothing here under UsedFor
    ("beach", True),            # umbrella AtLocation beach: a fact, but not of the asked relation
    ("Rain", False),            # correct (3 of 10 annotators): never a hallucination
    ("staying dry", True),      # v1.1 answers are stemmed: unstemmed predictions score 0
    ("Stay dry", False),
])
def test_umbrella(bundled_store: LadybugStore, umbrella_ctx: KnowledgeContext, prediction: str,
                  hallucinated: bool) -> None:
    report = hallucination_rate([UMBRELLA], {1: prediction}, [umbrella_ctx], bundled_store)
    assert report.n == 1 and report.flags == {"1": hallucinated}
    assert report.rate == float(hallucinated)


def test_correct_answer_is_never_a_hallucination(bundled_store: LadybugStore, retriever: FactRetriever) -> None:
    ctx = retriever.retrieve(RetrievalQuery("2", KNIFE.question, ()))  # no concept linked at all
    judgement = hallucination_rate([KNIFE], {2: "cut"}, [ctx], bundled_store).judgements[0]
    assert judgement.correct and not judgement.hallucinated


def test_no_detected_relation_means_any_relation(bundled_store: LadybugStore) -> None:
    ctx = KnowledgeContext("1", (), ("/c/en/umbrella",), (), (), (), "")
    report = hallucination_rate([UMBRELLA, KNIFE], {1: "beach", "2": "spoon"},
                                [ctx, ctx], bundled_store)
    assert report.flags == {"1": False, "2": True} and report.rate == 0.5
    assert report.judgements[0].answer_concept == "/c/en/beach" and report.judgements[0].supporting_fact


def test_only_answered_samples_are_judged(bundled_store: LadybugStore, umbrella_ctx: KnowledgeContext) -> None:
    report = hallucination_rate([UMBRELLA, KNIFE], {1: "fly"}, [umbrella_ctx, umbrella_ctx], bundled_store)
    assert report.n == 1 and report.rate == 1.0


def test_contexts_must_align(bundled_store: LadybugStore, umbrella_ctx: KnowledgeContext) -> None:
    with pytest.raises(ConfigError, match=r"\[K308\] Got 2 samples and 1 knowledge contexts"):
        hallucination_rate([UMBRELLA, KNIFE], {}, [umbrella_ctx], bundled_store)
