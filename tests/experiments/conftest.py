"""A deterministic cell runner whose metrics are formulas of the cell's fields, so every number a
report shows can be checked by hand, and a study runs in milliseconds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kgprune.experiments.records import CellResult
from kgprune.experiments.spec import FULL, Cell, StudySpec

PENALTY = {"knowledge": 20.0, "magnitude": 24.0, "random": 40.0, "taylor": 22.0,
           "task": 21.0, "activation": 30.0, FULL: 0.0}


def formula_metrics(cell: Cell) -> dict[str, float]:
    """accuracy falls with the ratio (less for knowledge than magnitude), rises by 0.5 per seed,
    falls with missing coverage and with pruning late layers; int8 quarters memory. One-shot
    loses twice the penalty; `steps` fine-tuning steps win back steps / (steps + 10) of it;
    task scored on k labels pays 40 / k more per unit ratio. Cross-entropy is 1 + (75 -
    accuracy) / 50. Data criteria agree with themselves at 0.8 + 0.01 x seed, with magnitude
    at 0.2."""
    penalty = PENALTY[cell.method] + (40.0 / cell.labels if cell.labels else 0.0)
    accuracy = 75.0 - penalty * cell.ratio + 0.5 * cell.seed
    accuracy -= 4.0 * (1.0 - cell.coverage) + (2.0 if cell.lam == 0 and cell.ratio else 0.0)
    if cell.layer_range is not None:
        accuracy -= 1.0 + cell.layer_range[0]
    if cell.eval_data not in ("", "standard"):
        accuracy -= 7.0
    oneshot = accuracy - penalty * cell.ratio
    if cell.steps is not None:
        accuracy = oneshot + (accuracy - oneshot) * cell.steps / (cell.steps + 10)
    ranks = {} if cell.method in (FULL, "random", "magnitude") else {
        "rank_self": 0.8 + 0.01 * cell.seed, "rank_vs_magnitude": 0.2}
    return {
        **ranks,
        "oneshot_accuracy": oneshot, "oneshot_ce": 1 + (75 - oneshot) / 50,
        "accuracy": accuracy, "test_ce": 1 + (75 - accuracy) / 50,
        "params_removed": 0.2 * cell.ratio,
        "hallucination": 12.0 + 20.0 * cell.ratio - 0.25 * cell.seed,
        "params_ratio": 1.0 - cell.ratio,
        "speedup": 1.0 / (1.0 - 0.8 * cell.ratio),
        "ideal_speedup": 1.0 / (1.0 - cell.ratio),
        "memory_mb": 400.0 * (1.0 - cell.ratio) * (0.25 if cell.quantize == "int8" else 1.0),
        "importance_s": 0.0 if cell.method == FULL else 2.0,
        "step_s": 0.10 * (1.12 if cell.lam > 0 else 1.0),
        "finetune_s": 10.0,
    }


class FormulaRunner:
    """Counts its calls; fails on the cell named by `fail_on` (an interrupted run)."""

    def __init__(self, fail_on: str = "", context: Mapping[str, Any] | None = None) -> None:
        self.prepared = 0
        self.ran: list[str] = []
        self.fail_on = fail_on
        self.context = dict(context or {"model": "formula", "kg_facts": 19})

    def prepare(self, spec: StudySpec) -> Mapping[str, Any]:
        self.prepared += 1
        return self.context

    def run(self, cell: Cell) -> CellResult:
        if cell.cell_id == self.fail_on:
            raise RuntimeError(f"interrupted at {cell.cell_id}")
        self.ran.append(cell.cell_id)
        return CellResult(formula_metrics(cell), {"device": "formula"})


@pytest.fixture
def formula_runner() -> FormulaRunner:
    return FormulaRunner()
