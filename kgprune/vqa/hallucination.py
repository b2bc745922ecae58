"""Hallucination rate: wrong answers that the knowledge graph does not support either.

Definition. A prediction is a hallucination when both hold:

1. it is not a correct answer: its VQA accuracy against the ground truth is 0;
2. no fact of the full knowledge graph links a concept of the question or of the image objects to
   the concept of the prediction (`concept_uri(prediction)`, e.g. "keep rain off" ->
   /c/en/keep_rain_off) under a relation the question asks about. The asked relations are those the
   `RelationDetector` found for the question (`KnowledgeContext.relations`); when it found none,
   any relation counts. Either direction of the fact counts, and the fact's other end must be a
   question or image concept distinct from the prediction's concept.

So "keep rain off" for "what is this used for?" about an umbrella is wrong but grounded
(umbrella UsedFor keep_rain_off), while "fly" is a hallucination. The rate is the share of
judged samples (those with a prediction) that hallucinate. It is always judged against the full
graph, never a coverage view: a pruned model's answer is not excused by knowledge it was not shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kgprune.errors import ConfigError, Errors
from kgprune.kg.store import GraphStore
from kgprune.kg.uri import concept_uri
from kgprune.retrieval.facts import KnowledgeContext
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.metrics import score_answer

FACT_LIMIT = 100_000  # seed-to-seed facts come back too; they must not crowd out the answer's


@dataclass(frozen=True, slots=True)
class SampleJudgement:
    question_id: int | str
    prediction: str
    answer_concept: str
    correct: bool
    supporting_fact: str  # edge_id of one fact that grounds the answer; "" when none
    hallucinated: bool


@dataclass(frozen=True, slots=True)
class HallucinationReport:
    rate: float
    n: int
    judgements: list[SampleJudgement]

    @property
    def flags(self) -> dict[str, bool]:
        return {str(j.question_id): j.hallucinated for j in self.judgements}


def supporting_fact(store: GraphStore, context: KnowledgeContext, answer_concept: str) -> str:
    """The edge id of a fact linking a question/image concept to `answer_concept`, or ""."""
    seeds = [c for c in dict.fromkeys(context.question_concepts + context.image_concepts)
             if c != answer_concept]
    if not seeds:
        return ""
    asked = sorted({g.relation for g in context.relations}) or None
    seed_set = set(seeds)
    for f in store.facts_among(seeds + [answer_concept], relations=asked, limit=FACT_LIMIT):
        ends = {f.head, f.tail}
        if answer_concept in ends and ends & seed_set:
            return f.edge_id
    return ""


def judge(sample: VqaSample, prediction: str, context: KnowledgeContext,
          store: GraphStore) -> SampleJudgement:
    answer_concept = concept_uri(prediction)
    correct = score_answer(prediction, sample) > 0
    support = "" if correct else supporting_fact(store, context, answer_concept)
    return SampleJudgement(sample.question_id, prediction, answer_concept, correct, support,
                           hallucinated=not correct and not support)


def hallucination_rate(
    samples: Sequence[VqaSample],
    predictions: Mapping[int | str, str],
    contexts: Sequence[KnowledgeContext],
    store: GraphStore,
) -> HallucinationReport:
    """Judge every sample that has a prediction; `contexts` align with `samples` by position."""
    if len(samples) != len(contexts):
        raise ConfigError(Errors.K308.format(samples=len(samples), contexts=len(contexts)))
    by_id = {str(qid): answer for qid, answer in predictions.items()}
    judgements = [judge(s, by_id[str(s.question_id)], ctx, store)
                  for s, ctx in zip(samples, contexts, strict=True) if str(s.question_id) in by_id]
    flagged = sum(j.hallucinated for j in judgements)
    return HallucinationReport(flagged / len(judgements) if judgements else 0.0, len(judgements),
                               judgements)
