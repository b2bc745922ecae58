"""Does a model answer from the image? The checks that tell a testbed model that sees from one
that guesses from the question.

A knowledge question about an unseen object can still be answered well above chance from its
wording alone (the best answer per relation). A model that sees beats that prior, keeps its
accuracy when several objects share the picture, and falls to the prior when the image is blank.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from PIL import Image

from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.metrics import normalize_answer, score_answer

Predict = Callable[[Sequence[VqaSample], Callable[[VqaSample], Image.Image] | None], list[str]]
"""Answers for samples; the second argument, when given, replaces each sample's image."""


@dataclass(frozen=True, slots=True)
class SeeingReport:
    accuracy: float
    by_objects: dict[int, float]
    """Accuracy x100 per number of objects in the image."""
    blank_images: float
    """Accuracy with every image replaced by an empty background."""
    relation_prior: float
    """Accuracy of the best training answer per question type: what the wording alone gives."""


def relation_prior(train: Sequence[VqaSample], samples: Sequence[VqaSample]) -> float:
    """VQA accuracy x100 of answering each question type's most frequent training answer."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for sample in train:
        counts[sample.question_type].update(normalize_answer(a) for a in sample.answers)
    best = {kind: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for kind, c in counts.items()}
    return 100 * sum(score_answer(best.get(s.question_type, ""), s) for s in samples) / len(samples)


def _mean(scores: Sequence[float]) -> float:
    return 100 * sum(scores) / len(scores) if scores else 0.0


def seeing_report(predict: Predict, samples: Sequence[VqaSample], train: Sequence[VqaSample],
                  objects_per_image: Mapping[int | str, int], blank: Image.Image) -> SeeingReport:
    scores = [score_answer(p, s) for p, s in zip(predict(samples, None), samples, strict=True)]
    groups: dict[int, list[float]] = defaultdict(list)
    for score, sample in zip(scores, samples, strict=True):
        groups[objects_per_image[sample.image_id]].append(score)
    blind = predict(samples, lambda _: blank)
    return SeeingReport(
        accuracy=_mean(scores), by_objects={k: _mean(v) for k, v in sorted(groups.items())},
        blank_images=_mean([score_answer(p, s) for p, s in zip(blind, samples, strict=True)]),
        relation_prior=relation_prior(train, samples))
