"""Which samples importance is scored on, and whether it may read their human answers.

The label-free study must show that the knowledge criterion needs no human answers, so the
unlabeled condition does not trust the criterion to ignore them: its samples carry
`AnswersWithheld` where their answer targets would be, and any read of those raises K640.
A criterion that scores them and finishes has provably not used a human answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn

import torch

from kgprune.errors import Errors, ExperimentError
from kgprune.pruning.data import PruningData


class AnswersWithheld(Mapping[str, float]):
    """Stands where a sample's answer targets would be; reading it in any way raises K640."""

    __slots__ = ()

    def _read(self, what: str) -> NoReturn:
        raise ExperimentError(Errors.K640.format(what=what))

    def __getitem__(self, key: str) -> float:
        self._read(f"looked up answer {key!r}")

    def __iter__(self) -> Iterator[str]:
        self._read("iterated over the answers")

    def __len__(self) -> int:  # noqa: PLE0303 (raising is the point)
        self._read("counted the answers")

    def __bool__(self) -> bool:  # noqa: PLE0304 (raising is the point)
        self._read("asked whether the sample has answers")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnswersWithheld)

    def __hash__(self) -> int:
        return hash(AnswersWithheld)

    def __repr__(self) -> str:
        return "AnswersWithheld()"


WITHHELD = AnswersWithheld()


def without_answers(data: PruningData) -> PruningData:
    """The same images, questions and knowledge targets (which come from retrieval over the
    question and the scene, never from answers), with every answer target withheld."""
    return replace(data, task=(WITHHELD,) * len(data))


def subset(data: PruningData, indices: Sequence[int]) -> PruningData:
    rows = list(indices)
    return PruningData(images=tuple(data.images[i] for i in rows),
                       questions=tuple(data.questions[i] for i in rows),
                       task=tuple(data.task[i] for i in rows),
                       knowledge=tuple(data.knowledge[i] for i in rows))


@dataclass(frozen=True, slots=True)
class ScoringSets:
    """The samples a cell's importance is scored on, and as many others from the same pool
    (disjoint) on which the same criterion is scored again to show its noise."""

    scored: PruningData
    other: PruningData | None
    """None when the pool holds fewer than twice the samples."""


def scoring_sets(train: PruningData, *, samples: int, labels: int | None,
                 seed: int) -> ScoringSets:
    """`samples` training samples drawn by `seed` (the same for every method of a seed), with
    their answers (`labels` None), without them (0), or only the first `labels` of them, which
    keep their answers: fewer labels are a prefix of more, so label counts are nested."""
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).tolist()
    n = min(samples if not labels else labels, len(train))
    pool = without_answers(train) if labels == 0 else train
    other = order[n:2 * n]
    return ScoringSets(subset(pool, order[:n]),
                       subset(pool, other) if len(other) == n else None)
