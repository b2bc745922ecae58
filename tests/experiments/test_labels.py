"""Label-free scoring never touches a human answer: the unlabeled samples carry withheld answers
that raise on any read, so a criterion that finishes scoring them provably did not use one."""

from __future__ import annotations

import pytest
import torch

from kgprune.errors import ExperimentError
from kgprune.experiments.labels import WITHHELD, scoring_sets, without_answers
from kgprune.pruning.data import PruningData
from kgprune.pruning.importance import KnowledgeImportance
from kgprune.pruning.schedule import PruneConfig, score_units
from tests.pruning import color_task


def _data(n: int) -> PruningData:
    samples = color_task.samples(n, seed=0)
    return PruningData(images=tuple(s.image for s in samples),
                       questions=tuple(s.question for s in samples),
                       task=tuple(s.task for s in samples),
                       knowledge=tuple(s.knowledge for s in samples))


def _score(method: str, data: PruningData) -> dict[str, torch.Tensor]:
    config = PruneConfig(method=method, importance_samples=len(data), importance_batch=8)
    return score_units(color_task.adapter(), data, config).scores


def test_knowledge_scores_unlabeled_samples_exactly_as_labelled_ones() -> None:
    data = _data(24)
    unlabeled = without_answers(data)
    assert all(t is WITHHELD for t in unlabeled.task)
    assert (unlabeled.images, unlabeled.questions, unlabeled.knowledge) == \
        (data.images, data.questions, data.knowledge)
    labelled, blind = _score("knowledge", data), _score("knowledge", unlabeled)
    assert labelled.keys() == blind.keys()
    assert all(torch.equal(labelled[k], blind[k]) for k in labelled)
    assert any(bool(v.abs().sum() > 0) for v in blind.values())


@pytest.mark.parametrize("method", ["task", "combined", "taylor", "activation"])
def test_criteria_that_need_answers_cannot_score_unlabeled_samples(method: str) -> None:
    with pytest.raises(ExperimentError, match=r"\[K640\].*withheld"):
        _score(method, without_answers(_data(8)))


def test_a_knowledge_criterion_that_read_answers_would_be_caught(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard is structural: the same criterion, made to add a pinch of the task loss, fails."""
    monkeypatch.setattr(KnowledgeImportance, "task_weight", 1e-6)
    with pytest.raises(ExperimentError, match=r"\[K640\]"):
        _score("knowledge", without_answers(_data(8)))


@pytest.mark.parametrize("read", [
    lambda t: t["red"], lambda t: list(t), lambda t: len(t), lambda t: bool(t),
    lambda t: "red" in t, lambda t: dict(t), lambda t: t.get("red"),
])
def test_every_way_of_reading_withheld_answers_raises(read) -> None:
    with pytest.raises(ExperimentError, match=r"\[K640\]"):
        read(WITHHELD)


def test_scoring_sets_share_samples_across_conditions_and_nest_label_counts() -> None:
    data = _data(40)
    labelled = scoring_sets(data, samples=16, labels=None, seed=3)
    unlabeled = scoring_sets(data, samples=16, labels=0, seed=3)
    few = scoring_sets(data, samples=16, labels=4, seed=3)
    assert len(labelled.scored) == len(unlabeled.scored) == 16 and len(few.scored) == 4
    assert unlabeled.scored.questions == labelled.scored.questions
    assert unlabeled.scored.images == labelled.scored.images
    assert all(t is WITHHELD for t in unlabeled.scored.task + unlabeled.other.task)
    assert not any(t is WITHHELD for t in labelled.scored.task + few.scored.task)
    assert few.scored.images == labelled.scored.images[:4], "fewer labels are a prefix"
    scored = {id(i) for i in labelled.scored.images}
    assert len(labelled.other) == 16 and not scored & {id(i) for i in labelled.other.images}
    other_seed = scoring_sets(data, samples=16, labels=None, seed=4).scored
    assert {id(i) for i in other_seed.images} != scored, "each seed draws its own samples"
    assert scoring_sets(data, samples=32, labels=None, seed=3).other is None  # 8 left, not 32
