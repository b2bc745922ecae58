"""Per cell, how far its importance ranking can be trusted: the criterion against itself on other
samples (the noise floor) and against the study's other criteria on the same samples.

All of it is measured on the unpruned model with the planner's ranking values (score per cost,
normalised as the cell's plan is), so it does not depend on the ratio, and each criterion is
scored once per seed and scoring condition however many ratios a study has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kgprune.experiments.labels import ScoringSets
from kgprune.experiments.ranks import rank_agreement
from kgprune.experiments.spec import DATA_FREE, FULL
from kgprune.pruning.data import PruningData
from kgprune.pruning.importance import ImportanceScores
from kgprune.pruning.planner import PlanConfig, ranking_values
from kgprune.pruning.schedule import PruneConfig, score_units
from kgprune.pruning.units import discover_units
from kgprune.vqa.adapters.base import ModelAdapter

SELF = "rank_self"
"""Metric: Spearman of the cell's criterion with itself on disjoint samples of the same size."""
VERSUS = "rank_vs_"
"""Metric prefix: Spearman of the cell's criterion with another on the standard samples."""


@dataclass(frozen=True, slots=True)
class Condition:
    """What one set of scores was computed from, for the memo."""

    method: str
    seed: int
    labels: int | None
    which: str  # "scored" or "other"
    view: object


class RankAgreement:
    """Scores on demand and remembers them, so the cost is one scoring per criterion, seed,
    condition and sample set, whatever order the cells come in."""

    def __init__(self, base: ModelAdapter, comparators: Sequence[str], *, batch_size: int) -> None:
        self.base = base
        self.comparators = tuple(m for m in comparators if m not in (FULL, "random"))
        self.batch_size = batch_size
        self._memo: dict[Condition, ImportanceScores] = {}

    def _scores(self, condition: Condition, data: PruningData) -> ImportanceScores:
        if condition not in self._memo:
            config = PruneConfig(method=condition.method, importance_samples=len(data),
                                 importance_batch=self.batch_size, seed=condition.seed)
            self._memo[condition] = score_units(self.base, data, config)
        return self._memo[condition]

    def metrics(self, method: str, seed: int, labels: int | None, view: object,
                plan: PlanConfig, sets: ScoringSets,
                standard: Callable[[], ScoringSets]) -> dict[str, float]:
        """`sets` are the cell's scoring samples; `standard()` those of a labelled cell of the
        same seed, which the comparators are scored on."""
        units = discover_units(self.base.model)

        def values(scores: ImportanceScores) -> dict[str, list[float]]:
            return ranking_values(units, scores, plan)

        found: dict[str, float] = {}
        if method in (FULL, "random"):
            return found
        mine = values(self._scores(Condition(method, seed, labels, "scored", view), sets.scored))
        if method not in DATA_FREE and sets.other is not None:
            again = self._scores(Condition(method, seed, labels, "other", view), sets.other)
            found[SELF] = rank_agreement(mine, values(again))
        for other in self.comparators:
            if other == method and not labels:  # the same samples: the same scores
                continue
            theirs = self._scores(Condition(other, seed, None, "scored", view), standard().scored)
            found[VERSUS + other] = rank_agreement(mine, values(theirs))
        return found
