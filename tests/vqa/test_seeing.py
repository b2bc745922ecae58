"""The seeing checks: per object count, blank images, and the question-only prior."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PIL import Image

from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.seeing import relation_prior, seeing_report


def _sample(qid: int, image_id: int, kind: str, answer: str) -> VqaSample:
    return VqaSample(qid, image_id, "What is this used for?", (answer,) * 10, kind, "other")


TRAIN = [_sample(1, 1, "UsedFor", "cut"), _sample(2, 2, "UsedFor", "cut"),
         _sample(3, 3, "UsedFor", "eat"), _sample(4, 4, "MadeOf", "metal")]
TEST = [_sample(10, 10, "UsedFor", "cut"), _sample(11, 11, "UsedFor", "eat"),
        _sample(12, 12, "MadeOf", "wood"), _sample(13, 13, "IsA", "tool")]


def test_the_prior_answers_each_question_type_with_its_best_training_answer() -> None:
    assert relation_prior(TRAIN, TEST) == 25.0  # only "cut" for the UsedFor sample that is cut


def test_a_model_that_reads_the_image_is_told_from_one_that_does_not() -> None:
    blank = Image.new("RGB", (8, 8), (1, 2, 3))
    calls: list[bool] = []

    def sees(samples: Sequence[VqaSample],
             image: Callable[[VqaSample], Image.Image] | None) -> list[str]:
        calls.append(image is not None)
        if image is not None:
            assert all(image(s) is blank for s in samples)
            return ["?"] * len(samples)
        return [s.answers[0] if s.image_id != 12 else "stone" for s in samples]

    report = seeing_report(sees, TEST, TRAIN, {10: 1, 11: 1, 12: 3, 13: 3}, blank)
    assert calls == [False, True]
    assert report.accuracy == 75.0 and report.by_objects == {1: 100.0, 3: 50.0}
    assert report.blank_images == 0.0 and report.relation_prior == 25.0
