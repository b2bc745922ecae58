"""Agreement of knowledge targets with human answers, per group."""

from __future__ import annotations

from kgprune.retrieval.facts import AnswerCandidate, KnowledgeContext
from kgprune.vqa.agreement import ALL, target_agreement
from kgprune.vqa.datasets import VqaSample


def _sample(qid: int, answers: list[str]) -> VqaSample:
    return VqaSample(qid, qid // 10, "What is this used for?", tuple(answers), "UsedFor", "other")


def _context(qid: int, *answers: tuple[str, float]) -> KnowledgeContext:
    return KnowledgeContext(str(qid), (), (), (), (),
                            tuple(AnswerCandidate(a, f"/c/en/{a}", w, ()) for a, w in answers), "v")


def test_agreement_counts_top_matches_and_scores_the_knowledge_answer() -> None:
    samples = [_sample(10, ["cut"] * 7 + ["slice"] * 3), _sample(20, ["drink"] * 10),
               _sample(21, ["sit"] * 6 + ["rest"] * 4)]
    contexts = {"10": _context(10, ("slice", 0.4), ("cut", 0.6)),  # top agrees
                "20": _context(20, ("pour", 1.0)),  # top disagrees, scores 0
                "21": _context(21)}  # nothing grounded
    groups = {"10": "1 objects", "20": "2 objects", "21": "2 objects"}
    report = target_agreement(samples, contexts, groups)
    assert set(report) == {"1 objects", "2 objects", ALL}
    assert report["1 objects"].top_match == 1.0 and report["1 objects"].top_accuracy == 100.0
    two = report["2 objects"]
    assert (two.samples, two.grounded, two.top_match, two.top_accuracy) == (2, 0.5, 0.0, 0.0)
    assert report[ALL].samples == 3 and abs(report[ALL].top_match - 1 / 3) < 1e-12
