"""Iterative pruning: R rounds of score -> plan -> slice -> fine-tune, checkpointed after each round.

Round r removes units until the share `ratio * r / R` of the ORIGINAL model's prunable parameters
is gone, so the rounds share the target evenly whatever the floors and rounding did before. Every
round is saved as a pruned model (weights + manifest) in `.<out>.rounds/round-r/` plus a
`round-r.json` record written after it; `run.json` marks the folder as the schedule's own (one
without it is the user's: refused with K568, never resumed from nor deleted). A killed run
restarts from the last complete round and, because every random choice is seeded by (seed,
round), ends where an uninterrupted run ends. The result is written to `out` in one rename (its
manifest records the schedule, so a re-run with the same settings is a no-op); `out` is never
overwritten.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from kgprune.atomic import write_atomic
from kgprune.errors import ConfigError, Errors
from kgprune.pruning.data import PruningData
from kgprune.pruning.distributed import barrier, is_main_process
from kgprune.pruning.finetune import FinetuneConfig, FinetuneReport, finetune
from kgprune.pruning.gates import Gates
from kgprune.pruning.importance import ImportanceScores, ScoringBatch, criterion_by_name
from kgprune.pruning.plan import PruningPlan, compose, keep_all
from kgprune.pruning.planner import PlanConfig, build_plan, unit_flops
from kgprune.pruning.saved import is_pruned_dir, load_pruned, read_manifest, save_pruned
from kgprune.pruning.surgery import apply_plan
from kgprune.pruning.units import UnitSet, discover_units
from kgprune.vqa.adapters.base import ModelAdapter

ROUND_RECORD = "round-{r}.json"
ROUND_DIR = "round-{r}"
OWNER_MARK = "run.json"
EventFn = Callable[[str, Mapping[str, Any]], None]
"""Called with an event name ("importance", "finetune_step", "round") and its figures."""
PrunedFn = Callable[[int, ModelAdapter], None]
"""Called with the round and the model right after its units are removed, before fine-tuning:
after round 1 of a one-round schedule, that is the one-shot pruned model."""


@dataclass(frozen=True, slots=True)
class PruneConfig:
    method: str = "knowledge"
    ratio: float = 0.3
    rounds: int = 3
    importance_samples: int = 256
    importance_batch: int = 32
    lam: float = 0.5
    """λ of the `combined` and `taylor` criteria (fine-tuning has its own)."""
    compensate: bool = False
    """Add removed FFN neurons' mean contribution to the down projection's bias."""
    seed: int = 0
    plan: PlanConfig = field(default_factory=PlanConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)

    def __post_init__(self) -> None:
        if not 0 <= self.ratio < 1:
            raise ConfigError(Errors.K565.format(problem=f"ratio {self.ratio} is outside [0, 1)"))
        if self.rounds < 1 or self.importance_samples < 1 or self.importance_batch < 1:
            raise ConfigError(Errors.K565.format(
                problem="rounds, importance samples and importance batch size must be >= 1"))

    def criterion_options(self) -> dict[str, Any]:
        if self.method == "random":
            return {"seed": self.seed}
        if self.method in ("combined", "taylor"):
            return {"lam": self.lam}
        return {}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["plan"] = asdict(self.plan)
        data["finetune"] = self.finetune.to_dict()
        return json.loads(json.dumps(data))


@dataclass(frozen=True, slots=True)
class RoundRecord:
    round: int
    removed_ratio: float
    """Share of the original prunable parameters removed after this round."""
    removed_cost: float
    """Cost (parameters or FLOPs, as the plan's target) removed so far, of `total_cost`."""
    total_cost: float
    params: int
    importance_seconds: float
    finetune: dict[str, float]
    plan: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PruneResult:
    adapter: ModelAdapter
    plan: PruningPlan
    """Relative to the original model."""
    rounds: tuple[RoundRecord, ...]
    out_dir: Path
    resumed_from: int


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n")


def rounds_dir(out_dir: Path) -> Path:
    return out_dir.with_name(f".{out_dir.name}.rounds")


def _claim(work: Path, config: PruneConfig) -> None:
    """Mark `work` as this schedule's rounds folder. One that holds anything but no mark was not
    made by kgprune, so it is refused rather than resumed from or deleted at the end."""
    empty = work.is_dir() and not any(work.iterdir())
    if work.exists() and not empty and not (work / OWNER_MARK).is_file():
        raise ConfigError(Errors.K568.format(path=work, mark=OWNER_MARK))
    barrier()
    if is_main_process() and not (work / OWNER_MARK).is_file():
        work.mkdir(parents=True, exist_ok=True)
        _write_json(work / OWNER_MARK, {"made_by": "kgprune prune", "config": config.to_dict()})


def _finished_rounds(work: Path, config: PruneConfig) -> list[RoundRecord]:
    """Records of the rounds already done in `work`, after checking they were made with `config`."""
    records: list[RoundRecord] = []
    for r in range(1, config.rounds + 1):
        path = work / ROUND_RECORD.format(r=r)
        if not path.is_file() or not is_pruned_dir(work / ROUND_DIR.format(r=r)):
            break
        data = json.loads(path.read_text(encoding="utf-8"))
        saved, requested = data["config"], config.to_dict()
        for key in sorted(set(saved) | set(requested)):
            if saved.get(key) != requested.get(key):
                raise ConfigError(Errors.K564.format(path=work, field=key, saved=saved.get(key),
                                                     requested=requested.get(key)))
        records.append(RoundRecord(**data["record"]))
    return records


def _prunable_cost(units: UnitSet, plan: PlanConfig, costs: Mapping[str, float] | None) -> float:
    groups = [g for g in units if not plan.is_protected(g)]
    if costs is None:
        return float(sum(g.num_params for g in groups))
    return float(sum(costs[g.key] * g.size for g in groups))


def _flop_costs(adapter: ModelAdapter, units: UnitSet, batch: ScoringBatch) -> dict[str, float]:
    """FLOPs per unit per sample, from the tokens each group sees on one batch."""
    with Gates(adapter.model, units, record=True) as gates, torch.no_grad():
        adapter.answer_losses(batch.inputs, batch.task)
        samples = len(batch.task)
        tokens = {g.key: gates.tokens_seen(g.key) / samples for g in units}
    return unit_flops(units, tokens)


def _mean_activations(adapter: ModelAdapter, units: UnitSet,
                      batches: list[ScoringBatch]) -> dict[str, torch.Tensor]:
    """Each FFN neuron's mean activation over the scoring batches, for bias compensation."""
    with Gates(adapter.model, units.neurons, record=True) as gates, torch.no_grad():
        for batch in batches:
            adapter.answer_losses(batch.inputs, batch.task)
        return {g.key: gates.activation_mean(g.key)[:, 0] for g in units.neurons}


def round_batches(adapter: ModelAdapter, data: PruningData, config: PruneConfig,
                  round_index: int) -> list[ScoringBatch]:
    """The scoring samples of a round: seeded by (seed, round), the same for every method."""
    return data.scoring_batches(adapter, samples=config.importance_samples,
                                batch_size=config.importance_batch,
                                seed=config.seed * 7919 + round_index)


def score_units(adapter: ModelAdapter, data: PruningData, config: PruneConfig, *,
                batches: list[ScoringBatch] | None = None, units: UnitSet | None = None,
                meta: Mapping[str, Any] | None = None) -> ImportanceScores:
    """Importance of every unit of the current model on `batches` (default: the first round's
    scoring samples)."""
    units = units or discover_units(adapter.model)
    if batches is None:
        batches = round_batches(adapter, data, config, 1)
    criterion = criterion_by_name(config.method, **config.criterion_options())
    return criterion.score(adapter, units, batches, meta=dict(meta or {}))


def _finished(out_dir: Path, config: PruneConfig) -> dict[str, Any] | None:
    """The manifest info of `out_dir` when it already holds this very result (a re-run is then
    a no-op); None when `out_dir` is free; K563 when it holds anything else."""
    if not out_dir.exists() or (out_dir.is_dir() and not any(out_dir.iterdir())):
        return None
    if is_pruned_dir(out_dir):
        info = read_manifest(out_dir).get("info", {})
        if info.get("schedule") == config.to_dict():
            return info
        raise ConfigError(Errors.K563.format(path=out_dir, problem="made with other settings"))
    raise ConfigError(Errors.K563.format(path=out_dir, problem="not an empty directory"))


def prune(adapter: ModelAdapter, data: PruningData, config: PruneConfig,
          out_dir: Path | None = None, *, teacher: ModelAdapter | None = None,
          info: Mapping[str, Any] | None = None, on_event: EventFn | None = None,
          scores: ImportanceScores | None = None, scoring: PruningData | None = None,
          on_pruned: PrunedFn | None = None) -> PruneResult:
    """Prune `adapter` (in place) to `config.ratio`, resuming an interrupted run into `out_dir`
    (None: in memory, nothing saved). `scores` (of the unpruned model) replace the first round's
    scoring.

    Importance is scored on `scoring` (default: `data`, which fine-tuning always uses), so a
    study can score on other samples than it fine-tunes on, e.g. ones without human answers."""
    emit = on_event or (lambda _name, _data: None)
    if config.finetune.distill and teacher is None:
        raise ConfigError(Errors.K562)
    if out_dir is None:
        return _rounds(adapter, data, config, None, teacher, info, emit, scores,
                       scoring=scoring, on_pruned=on_pruned)
    out_dir = Path(out_dir)
    done = _finished(out_dir, config)
    if done is not None:
        return PruneResult(load_pruned(out_dir), PruningPlan.from_dict(done["plan"]),
                           tuple(RoundRecord(**r) for r in done["rounds"]), out_dir,
                           resumed_from=config.rounds)
    return _rounds(adapter, data, config, out_dir, teacher, info, emit, scores,
                   scoring=scoring, on_pruned=on_pruned)


def _rounds(adapter: ModelAdapter, data: PruningData, config: PruneConfig, out_dir: Path | None,
            teacher: ModelAdapter | None, info: Mapping[str, Any] | None, emit: EventFn,
            given: ImportanceScores | None, *, scoring: PruningData | None,
            on_pruned: PrunedFn | None) -> PruneResult:
    """The rounds not yet done, each checkpointed under `out_dir` when there is one."""
    scoring = data if scoring is None else scoring
    work = rounds_dir(out_dir) if out_dir is not None else None
    original = discover_units(adapter.model)
    prunable = sum(g.num_params for g in original if not config.plan.is_protected(g))
    composed = replace(keep_all(original), prunable_params=prunable)
    records: list[RoundRecord] = []
    if work is not None:
        _claim(work, config)
        records = _finished_rounds(work, config)
    removed_cost, total_cost = 0.0, None
    if work is not None and records:
        adapter = load_pruned(work / ROUND_DIR.format(r=records[-1].round))
        composed = PruningPlan.from_dict(records[-1].plan)
        removed_cost, total_cost = records[-1].removed_cost, records[-1].total_cost
    resumed_from = len(records)
    for r in range(resumed_from + 1, config.rounds + 1):
        units = discover_units(adapter.model)
        batches = round_batches(adapter, scoring, config, r)
        costs = _flop_costs(adapter, units, batches[0]) if config.plan.target == "flops" else None
        current = _prunable_cost(units, config.plan, costs)
        total_cost = current if total_cost is None else total_cost
        goal = config.ratio * r / config.rounds * total_cost
        share = min(0.99, max(0.0, (goal - removed_cost) / current)) if current else 0.0
        start = time.perf_counter()
        if r == 1 and given is not None:
            given.check(units)
            scores = given
        else:
            scores = score_units(adapter, scoring, config, batches=batches, units=units)
        importance_seconds = time.perf_counter() - start
        emit("importance", {"round": r, "seconds": importance_seconds})
        compensation = None
        if config.compensate:
            compensation = _mean_activations(adapter, units, batches)
        step_plan = build_plan(units, scores, replace(config.plan, ratio=share), costs=costs)
        removed_cost += float(step_plan.settings["removed_cost"])
        apply_plan(adapter.model, step_plan, units=units, compensation=compensation)
        if on_pruned is not None:
            on_pruned(r, adapter)
        composed = compose(composed, replace(step_plan, prunable_params=prunable))
        composed = replace(composed, criterion=config.method, target_ratio=config.ratio)
        tuned: FinetuneReport = finetune(
            adapter, data, replace(config.finetune, seed=config.seed), round_index=r,
            teacher=teacher,
            on_progress=lambda done, total, r=r: emit("finetune_step",
                                                      {"round": r, "step": done, "total": total}))
        record = RoundRecord(
            round=r, removed_ratio=composed.removed_ratio, removed_cost=removed_cost,
            total_cost=total_cost,
            params=sum(p.numel() for p in adapter.model.parameters()),
            importance_seconds=importance_seconds, finetune=asdict(tuned), plan=composed.to_dict())
        if work is not None and is_main_process():
            round_dir = work / ROUND_DIR.format(r=r)
            if round_dir.exists():
                shutil.rmtree(round_dir)
            save_pruned(adapter, composed, round_dir, info={**(info or {}), "round": r})
            _write_json(work / ROUND_RECORD.format(r=r),
                        {"config": config.to_dict(), "record": record.to_dict()})
        barrier()
        records.append(record)
        emit("round", record.to_dict())
    if out_dir is not None and work is not None and is_main_process():
        save_pruned(adapter, composed, out_dir,
                    info={**(info or {}), "schedule": config.to_dict(), "plan": composed.to_dict(),
                          "rounds": [r.to_dict() for r in records]})
        shutil.rmtree(work, ignore_errors=True)
    barrier()
    return PruneResult(adapter, composed, tuple(records), out_dir, resumed_from)
