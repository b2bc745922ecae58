"""What a cell runner returns, and the line a finished cell leaves in cells.jsonl."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kgprune.errors import Errors, ExperimentError
from kgprune.experiments.spec import Cell

RECORD_FORMAT = 1


@dataclass(frozen=True)
class CellResult:
    """A cell's measurements. Names the reports know (others are kept and averaged too):

    accuracy and hallucination in percent (VQA accuracy, share of unsupported wrong answers);
    params (count), params_ratio and flops_ratio (kept / original); speedup and ideal_speedup
    (original latency / pruned, measured and from FLOPs); memory_mb; latency_ms_b1 and
    latency_ms_b32 (per batch of 1 and 32); importance_s (importance estimation, all rounds);
    step_s (mean fine-tuning step); finetune_s. `info` holds strings worth keeping that are not
    numbers (where the pruned model was saved, the device).
    """

    metrics: Mapping[str, float]
    info: Mapping[str, str] = field(default_factory=dict)


def checked_metrics(result: object, cell_id: str) -> tuple[dict[str, float], dict[str, str]]:
    """Plain dicts from a runner's result, or a K614 naming what is wrong with it."""
    if not isinstance(result, CellResult):
        raise ExperimentError(Errors.K614.format(what=f"a {type(result).__name__}, not a "
                                                 "CellResult", cell_id=cell_id))
    metrics: dict[str, float] = {}
    for name, value in result.metrics.items():
        if (not isinstance(name, str) or isinstance(value, bool)
                or not isinstance(value, int | float) or not math.isfinite(value)):
            raise ExperimentError(Errors.K614.format(what=f"metric {name!r} = {value!r}",
                                                     cell_id=cell_id))
        metrics[name] = float(value)
    return metrics, {str(k): str(v) for k, v in result.info.items()}


@dataclass(frozen=True)
class CellRecord:
    """One finished cell, as appended to cells.jsonl."""

    cell: Cell
    metrics: Mapping[str, float]
    info: Mapping[str, str]
    wall_s: float
    finished_utc: str

    @property
    def cell_id(self) -> str:
        return self.cell.cell_id

    def to_json(self) -> dict[str, Any]:
        return {"format": RECORD_FORMAT, "cell_id": self.cell_id, "cell": self.cell.to_dict(),
                "metrics": dict(self.metrics), "info": dict(self.info), "wall_s": self.wall_s,
                "finished_utc": self.finished_utc}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CellRecord:
        return cls(cell=Cell.from_dict(data["cell"]),
                   metrics={str(k): float(v) for k, v in data["metrics"].items()},
                   info={str(k): str(v) for k, v in data.get("info", {}).items()},
                   wall_s=float(data["wall_s"]), finished_utc=str(data["finished_utc"]))
