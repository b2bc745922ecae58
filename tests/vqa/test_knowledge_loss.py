"""Targets of L_task and L_knowledge, and how samples without grounded answers count."""

from __future__ import annotations

import pytest

from kgprune.retrieval.facts import AnswerCandidate, KnowledgeContext
from kgprune.vqa.knowledge_loss import knowledge_targets, task_targets


def test_task_targets_are_normalised_vqa_soft_scores() -> None:
    answers = ["a knife", "knife", "Knife", "knife", "scissors", "scissors", "blade", "knife",
               "knife", "knife"]
    targets = task_targets(answers)
    # knife x7 -> min(7/3, 1) = 1, scissors x2 -> 2/3, blade x1 -> 1/3; normalised by 2.
    assert targets == pytest.approx({"knife": 0.5, "scissors": 1 / 3, "blade": 1 / 6})
    assert task_targets([]) == {} and task_targets(["", " "]) == {}


def _context(*answers: tuple[str, float]) -> KnowledgeContext:
    return KnowledgeContext(
        sample_id="s", question_concepts=(), image_concepts=("/c/en/umbrella",), relations=(),
        facts=(), kg_version="v",
        answers=tuple(AnswerCandidate(text, f"/c/en/{text.replace(' ', '_')}", w, ("/a/x",))
                      for text, w in answers))


def test_knowledge_targets_follow_the_retrieved_answer_weights() -> None:
    ctx = _context(("stay dry", 0.5), ("block sun", 0.25), ("the shade", 0.25))
    assert knowledge_targets(ctx) == pytest.approx({"stay dry": 0.5, "block sun": 0.25,
                                                     "shade": 0.25})
    assert knowledge_targets(_context()) == {}, "no grounded answer: the sample adds nothing"
