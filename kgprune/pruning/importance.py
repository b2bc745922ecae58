"""How much each head and neuron matters: importance criteria, and the scores they produce.

The paper's criterion (`knowledge`) is the mean over knowledge-grounded samples of
|d L_knowledge / d gate| with every gate at 1, the first-order loss change of removing the unit.
The baselines the paper compares against use the same machinery: `task` and `combined` (Michel et
al.) swap the loss, `taylor` differentiates the unit's weights instead of its gate, `magnitude` and
`random` need no data, `activation` only forward passes.

Scores are sums over samples divided by sample counts, so data parallel scoring is exact: each rank
scores its share of one global batch list and the sums are all-reduced (see `shard`).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import safetensors.torch
import torch
import torch.distributed as dist
from torch import nn

from kgprune.atomic import write_atomic
from kgprune.errors import ConfigError, Errors, InputFormatError, PruningError
from kgprune.pruning.gates import Gates
from kgprune.pruning.units import FUSED_QKV, HeadGroup, NeuronGroup, UnitGroup, UnitSet
from kgprune.vqa.adapters.base import AnswerTargets, ModelAdapter, ModelInputs

SCORES_FORMAT = 1
Progress = Callable[[int, int], None]
"""`on_progress(done, total)`: batches scored so far on this rank, out of this rank's share."""


@dataclass(frozen=True, slots=True)
class ScoringBatch:
    """One batch: model inputs and, per sample, its task and knowledge answer targets."""

    inputs: ModelInputs
    task: Sequence[AnswerTargets]
    knowledge: Sequence[AnswerTargets]


@dataclass(frozen=True, slots=True)
class ImportanceScores:
    """Per group key, one score per query head or neuron (higher = more important)."""

    criterion: str
    version: int
    scores: dict[str, torch.Tensor]
    samples: int
    """Samples the scores average over (0 for criteria that need no data)."""
    options: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    """What the caller wants recorded with the scores: model, data, KG view, seed..."""

    def __getitem__(self, key: str) -> torch.Tensor:
        return self.scores[key]

    def check(self, units: UnitSet | Iterable[UnitGroup], *, skip: Iterable[str] = ()) -> None:
        """Raise K520 unless every group of `units` (but `skip`) has finite scores of its size."""
        check_scores(self.scores, units, skip=skip)

    def save(self, path: str | Path) -> tuple[Path, Path]:
        """Write `<path>.safetensors` (the tensors) and `<path>.json` (what made them, with the
        tensors file's sha256), each atomically; the JSON goes last so it only names whole files."""
        tensors_path, manifest_path = score_paths(path)
        try:
            meta_text = json.dumps(self.meta, sort_keys=True)
            options_text = json.dumps(self.options, sort_keys=True)
        except (TypeError, ValueError) as e:
            raise ConfigError(Errors.K526.format(problem=e)) from e
        blob = safetensors.torch.save({k: v.detach().to("cpu", torch.float32).contiguous()
                                       for k, v in self.scores.items()},
                                      metadata={"criterion": self.criterion})
        manifest = {"format": SCORES_FORMAT, "criterion": self.criterion, "version": self.version,
                    "samples": self.samples, "options": json.loads(options_text),
                    "meta": json.loads(meta_text), "groups": list(self.scores),
                    "tensors": tensors_path.name, "sha256": hashlib.sha256(blob).hexdigest()}
        write_atomic(tensors_path, blob)
        write_atomic(manifest_path, json.dumps(manifest, indent=1) + "\n")
        return tensors_path, manifest_path

    @classmethod
    def load(cls, path: str | Path) -> ImportanceScores:
        """Read what `save` wrote; K517 (missing), K518 (unreadable), K519 (files disagree)."""
        tensors_path, manifest_path = score_paths(path)
        for needed in (manifest_path, tensors_path):
            if not needed.is_file():
                raise InputFormatError(Errors.K517.format(path=path, missing=needed.name))
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError("not a JSON object")
            if manifest.get("format") != SCORES_FORMAT:
                raise ValueError(f"format {manifest.get('format')!r}, expected {SCORES_FORMAT}")
            criterion, version = str(manifest["criterion"]), int(manifest["version"])
            samples, groups = int(manifest["samples"]), [str(k) for k in manifest["groups"]]
            options, meta, digest = dict(manifest["options"]), dict(manifest["meta"]), manifest["sha256"]
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError,
                ValueError) as e:
            raise InputFormatError(Errors.K518.format(path=manifest_path, problem=e)) from e
        blob = tensors_path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != digest:
            raise InputFormatError(Errors.K519.format(
                tensors=tensors_path, manifest=manifest_path, problem="sha256 differs"))
        try:
            tensors = safetensors.torch.load(blob)
        except Exception as e:  # safetensors raises its own untyped errors on bad bytes
            raise InputFormatError(Errors.K518.format(path=tensors_path, problem=e)) from e
        if sorted(tensors) != sorted(groups):
            raise InputFormatError(Errors.K519.format(
                tensors=tensors_path, manifest=manifest_path,
                problem=f"groups {sorted(tensors)} vs {sorted(groups)}"))
        return cls(criterion=criterion, version=version, scores={k: tensors[k] for k in groups},
                   samples=samples, options=options, meta=meta)


def check_scores(scores: Mapping[str, torch.Tensor], units: UnitSet | Iterable[UnitGroup], *,
                 skip: Iterable[str] = ()) -> None:
    """Raise K520 unless every group of `units` (but `skip`) has finite scores of its size."""
    skipped = set(skip)
    for group in units:
        if group.key in skipped:
            continue
        values = scores.get(group.key)
        if values is None:
            raise PruningError(Errors.K520.format(key=group.key, problem="no scores for it"))
        if tuple(values.shape) != (group.size,):
            raise PruningError(Errors.K520.format(
                key=group.key, problem=f"{tuple(values.shape)} scores for {group.size} {group.kind}"))
        if not bool(torch.isfinite(values).all()):
            raise PruningError(Errors.K520.format(key=group.key, problem="scores not finite"))


def score_paths(path: str | Path) -> tuple[Path, Path]:
    """`<path>.safetensors` and `<path>.json`; a path already ending in either names the pair."""
    path = Path(path)
    if path.suffix in (".json", ".safetensors"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def shard(batches: Sequence[ScoringBatch]) -> Sequence[ScoringBatch]:
    """This rank's batches r, r+W, r+2W... when torch.distributed is initialised; else all."""
    if dist.is_available() and dist.is_initialized():
        return batches[dist.get_rank()::dist.get_world_size()]
    return batches


@contextmanager
def _scoring_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode and frozen weights (no weight-gradient memory); both restored on exit."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    modes = [(m, m.training) for m in model.modules()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        model.eval()
        with torch.enable_grad():
            yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        for m, mode in modes:
            m.train(mode)


def _paths(group: UnitGroup) -> tuple[str, ...]:
    """The Linear layers holding the group's weights."""
    if isinstance(group, HeadGroup):
        return tuple(dict.fromkeys((group.q, group.k, group.v, group.o)))
    return (*group.up, group.down)


def _linears(model: nn.Module, units: Sequence[UnitGroup]) -> dict[str, nn.Linear]:
    modules = dict(model.named_modules())
    return {p: modules[p] for g in units for p in _paths(g)}


Terms = Mapping[str, tuple[torch.Tensor, torch.Tensor | None]]
"""Per Linear path, an elementwise quantity over its weight and bias (w², w·dL/dw)."""


def unit_sums(group: UnitGroup, terms: Terms) -> torch.Tensor:
    """Per unit, the sum of `terms` over the unit's weights: q/k/v rows and o columns of a head,
    up rows and down columns of a neuron (row biases included, as in the units' parameter counts).

    Under grouped-query attention a query head carries 1/group_size of its key/value head's rows,
    so the heads of a key/value group sum to everything that removing the group removes.
    """
    if isinstance(group, NeuronGroup):
        total = terms[group.down][0].sum(dim=0)
        for path in group.up:
            total = total + _row_sums(terms[path], group.size, 1)
        return total
    heads, d = group.num_heads, group.head_dim
    total = terms[group.o][0].unflatten(1, (heads, d)).sum(dim=(0, 2))
    if group.layout == FUSED_QKV:
        return total + _row_sums(terms[group.q], 3 * heads, d).view(3, heads).sum(dim=0)
    total = total + _row_sums(terms[group.q], heads, d)
    kv = _row_sums(terms[group.k], group.num_kv_heads, d) + _row_sums(terms[group.v],
                                                                       group.num_kv_heads, d)
    return total + kv.repeat_interleave(group.group_size) / group.group_size


def _row_sums(term: tuple[torch.Tensor, torch.Tensor | None], parts: int,
              rows: int) -> torch.Tensor:
    weight, bias = term
    total = weight.reshape(parts, -1).sum(dim=1)
    return total if bias is None else total + bias.reshape(parts, rows).sum(dim=1)


class ImportanceCriterion(ABC):
    """Scores every unit of `units`; subclasses register by `name` in `CRITERIA`."""

    name: ClassVar[str]
    version: ClassVar[int] = 1

    def options(self) -> dict[str, Any]:
        """The settings that change the scores, recorded with them."""
        return {}

    @abstractmethod
    def score(self, adapter: ModelAdapter, units: UnitSet | Iterable[UnitGroup],
              batches: Sequence[ScoringBatch] = (), *, on_progress: Progress | None = None,
              meta: Mapping[str, Any] | None = None) -> ImportanceScores:
        """Scores for the units of `adapter.model`."""

    def _result(self, scores: Mapping[str, torch.Tensor], samples: int,
                meta: Mapping[str, Any] | None) -> ImportanceScores:
        return ImportanceScores(self.name, self.version,
                                {k: v.detach().to("cpu", torch.float32) for k, v in scores.items()},
                                samples, self.options(), dict(meta or {}))


@dataclass(slots=True)
class _Tally:
    """Sums per unit and their denominators, on one rank until `reduce`."""

    sums: dict[str, torch.Tensor]
    counts: dict[str, float]
    samples: int = 0
    reached: dict[str, float] = field(default_factory=dict)
    """Per group, batches whose loss had a gradient path to it (gradient criteria only)."""

    def reduce(self) -> _Tally:
        """All-reduce (SUM) every number in one call, so all ranks end with the global tally."""
        if not (dist.is_available() and dist.is_initialized()):
            return self
        keys, reached = list(self.sums), list(self.reached)
        any_sum = next(iter(self.sums.values()))
        scalars = [self.counts[k] for k in keys] + [self.reached[k] for k in reached]
        flat = torch.cat([*(self.sums[k] for k in keys),
                          torch.tensor([*scalars, self.samples], dtype=torch.float64,
                                       device=any_sum.device)])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        sums, offset = {}, 0
        for k in keys:
            size = self.sums[k].numel()
            sums[k], offset = flat[offset:offset + size], offset + size
        counts = {k: float(flat[offset + i]) for i, k in enumerate(keys)}
        offset += len(keys)
        return _Tally(sums, counts, int(round(float(flat[-1]))),
                      {k: float(flat[offset + i]) for i, k in enumerate(reached)})

    def check_reached(self, name: str) -> None:
        """K574 when a scored group never had a gradient path from the loss: a zero score would
        call it unimportant when it is only outside the computation."""
        cut_off = [k for k, n in self.reached.items() if n == 0 and self.counts[k] > 0]
        if cut_off:
            raise PruningError(Errors.K574.format(name=name, count=len(cut_off),
                                                  groups=", ".join(cut_off[:4])))


class DataCriterion(ImportanceCriterion):
    """A criterion that averages per-batch contributions over samples (or tokens)."""

    targets: ClassVar[str] = "task"
    """Which targets a sample needs to count, for the K525 message."""
    gradients: ClassVar[bool] = False
    """True for criteria that differentiate the loss: they check every group was reached."""

    def score(self, adapter: ModelAdapter, units: UnitSet | Iterable[UnitGroup],
              batches: Sequence[ScoringBatch] = (), *, on_progress: Progress | None = None,
              meta: Mapping[str, Any] | None = None) -> ImportanceScores:
        groups = tuple(units)
        mine = shard(list(batches))
        device = next(adapter.model.parameters()).device
        tally = _Tally({g.key: torch.zeros(g.size, dtype=torch.float64, device=device)
                        for g in groups}, {g.key: 0.0 for g in groups},
                       reached={g.key: 0.0 for g in groups} if self.gradients else {})
        with _scoring_mode(adapter.model):
            self._tally(adapter, groups, mine, tally, on_progress or (lambda done, total: None))
        tally = tally.reduce()
        tally.check_reached(self.name)
        if tally.samples == 0:
            raise PruningError(Errors.K525.format(
                name=self.name, problem=f"{len(batches)} batches, none with a usable sample",
                targets=self.targets))
        return self._result({k: v / max(tally.counts[k], 1.0) for k, v in tally.sums.items()},
                            tally.samples, meta)

    @abstractmethod
    def _tally(self, adapter: ModelAdapter, groups: tuple[UnitGroup, ...],
               batches: Sequence[ScoringBatch], tally: _Tally, progress: Progress) -> None:
        """Add this rank's batches to `tally`."""


def weighted_loss(adapter: ModelAdapter, batch: ScoringBatch, *, task_weight: float,
                  knowledge_weight: float) -> tuple[torch.Tensor | None, int]:
    """The SUM over samples of task_weight·L_task + knowledge_weight·L_knowledge, and how many
    samples it covers. A sample counts for a loss when its target for it is not empty: the
    `grounded` rule of `knowledge_loss.batch_losses`. Both losses share one forward pass.
    Returns (None, 0) when no sample counts."""
    terms = [(weight, targets) for weight, targets in ((task_weight, batch.task),
                                                       (knowledge_weight, batch.knowledge))
             if weight and any(targets)]
    if not terms:
        return None, 0
    losses = adapter.answer_losses(batch.inputs, *(targets for _, targets in terms))
    total = sum(weight * (loss * _present(targets, loss)).sum()
                for (weight, targets), loss in zip(terms, losses, strict=True))
    used = sum(any(targets[i] for _, targets in terms) for i in range(len(batch.task)))
    return total, used


def _present(targets: Sequence[AnswerTargets], like: torch.Tensor) -> torch.Tensor:
    return torch.tensor([bool(t) for t in targets], dtype=like.dtype, device=like.device)


class GateGradientCriterion(DataCriterion):
    """Mean over counted samples of |dL/d gate| at gates 1; |·| per batch, before summing.

    Only the gates require gradients, so one backward pass per loss term costs no weight gradients.
    """

    gradients = True

    task_weight: float = 0.0
    knowledge_weight: float = 0.0

    def _tally(self, adapter: ModelAdapter, groups: tuple[UnitGroup, ...],
               batches: Sequence[ScoringBatch], tally: _Tally, progress: Progress) -> None:
        with Gates(adapter.model, groups, requires_grad=True) as gates:
            keys = list(gates.values)
            for done, batch in enumerate(batches, 1):
                loss, count = weighted_loss(adapter, batch, task_weight=self.task_weight,
                                            knowledge_weight=self.knowledge_weight)
                if loss is not None:
                    grads = torch.autograd.grad(loss, [gates.values[k] for k in keys],
                                                allow_unused=True)
                    for key, grad in zip(keys, grads):
                        if grad is not None:
                            tally.sums[key] += grad.detach().abs().double()
                            tally.reached[key] += 1
                        tally.counts[key] += count
                    tally.samples += count
                progress(done, len(batches))


class KnowledgeImportance(GateGradientCriterion):
    """The paper's criterion: gate gradients of L_knowledge over knowledge-grounded samples."""

    name = "knowledge"
    targets = "knowledge"
    knowledge_weight = 1.0


class TaskImportance(GateGradientCriterion):
    """Michel et al. (2019): gate gradients of the task loss L_task."""

    name = "task"
    task_weight = 1.0


class CombinedImportance(GateGradientCriterion):
    """Gate gradients of L_task + lam·L_knowledge per sample (the fine-tuning objective)."""

    name = "combined"
    targets = "task or knowledge"
    task_weight = 1.0

    def __init__(self, lam: float = 1.0) -> None:
        self.knowledge_weight = float(lam)

    def options(self) -> dict[str, Any]:
        return {"lam": self.knowledge_weight}


class TaylorImportance(DataCriterion):
    """Mean over samples of |Σ w·dL/dw| over each unit's weights, |·| per batch: the first-order
    loss change of zeroing the unit's weights. Only the units' Linear layers get gradients, through
    `torch.autograd.grad`, so no `.grad` is ever written."""

    name = "taylor"
    targets = "task"
    gradients = True

    def __init__(self, lam: float = 0.0) -> None:
        self.lam = float(lam)

    def options(self) -> dict[str, Any]:
        return {"lam": self.lam}

    def _tally(self, adapter: ModelAdapter, groups: tuple[UnitGroup, ...],
               batches: Sequence[ScoringBatch], tally: _Tally, progress: Progress) -> None:
        layers = _linears(adapter.model, groups)
        params = [p for layer in layers.values() for p in (layer.weight, layer.bias)
                  if p is not None]
        for p in params:
            p.requires_grad_(True)
        for done, batch in enumerate(batches, 1):
            loss, count = weighted_loss(adapter, batch, task_weight=1.0, knowledge_weight=self.lam)
            if loss is not None:
                grads = dict(zip(params, torch.autograd.grad(loss, params, allow_unused=True)))
                for g in groups:
                    hit = any(grads[layers[p].weight] is not None for p in _paths(g))
                    tally.reached[g.key] += hit
                    terms = {path: (_product(layers[path].weight, grads),
                                    None if layers[path].bias is None
                                    else _product(layers[path].bias, grads))
                             for path in _paths(g)}
                    tally.sums[g.key] += unit_sums(g, terms).abs()
                    tally.counts[g.key] += count
                tally.samples += count
            progress(done, len(batches))


def _product(param: nn.Parameter, grads: Mapping[nn.Parameter, torch.Tensor | None]) -> torch.Tensor:
    grad = grads[param]
    if grad is None:
        return torch.zeros_like(param, dtype=torch.float64)
    return param.detach().double() * grad.double()


class ActivationImportance(DataCriterion):
    """Mean L2 norm of each unit's slice at its gate site, over every token of the L_task forward
    pass (teacher-forced over the answers for generative models); samples without a task target
    are not run."""

    name = "activation"
    targets = "task"

    def _tally(self, adapter: ModelAdapter, groups: tuple[UnitGroup, ...],
               batches: Sequence[ScoringBatch], tally: _Tally, progress: Progress) -> None:
        with Gates(adapter.model, groups, record=True) as gates, torch.no_grad():
            for done, batch in enumerate(batches, 1):
                count = sum(bool(t) for t in batch.task)
                if count:
                    adapter.answer_losses(batch.inputs, batch.task)
                    tally.samples += count
                progress(done, len(batches))
            for g in groups:
                tokens = gates.tokens_seen(g.key)
                if tokens:
                    tally.sums[g.key] += gates.activation_norm(g.key).double() * tokens
                    tally.counts[g.key] += tokens


class MagnitudeImportance(ImportanceCriterion):
    """L2 norm of each unit's weights (the slices of `unit_sums`); needs no data."""

    name = "magnitude"

    def score(self, adapter: ModelAdapter, units: UnitSet | Iterable[UnitGroup],
              batches: Sequence[ScoringBatch] = (), *, on_progress: Progress | None = None,
              meta: Mapping[str, Any] | None = None) -> ImportanceScores:
        groups = tuple(units)
        layers = _linears(adapter.model, groups)
        scores = {}
        with torch.no_grad():
            for g in groups:
                terms = {path: (layers[path].weight.double() ** 2, None if layers[path].bias is None
                                else layers[path].bias.double() ** 2) for path in _paths(g)}
                scores[g.key] = unit_sums(g, terms).sqrt()
        if on_progress is not None:
            on_progress(1, 1)
        return self._result(scores, 0, meta)


class RandomImportance(ImportanceCriterion):
    """Seeded uniform scores: the random-pruning baseline, identical on every rank."""

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)

    def options(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def score(self, adapter: ModelAdapter, units: UnitSet | Iterable[UnitGroup],
              batches: Sequence[ScoringBatch] = (), *, on_progress: Progress | None = None,
              meta: Mapping[str, Any] | None = None) -> ImportanceScores:
        generator = torch.Generator().manual_seed(self.seed)
        scores = {g.key: torch.rand(g.size, generator=generator) for g in units}
        if on_progress is not None:
            on_progress(1, 1)
        return self._result(scores, 0, meta)


CRITERIA: dict[str, type[ImportanceCriterion]] = {c.name: c for c in (
    KnowledgeImportance, TaskImportance, CombinedImportance, TaylorImportance,
    MagnitudeImportance, ActivationImportance, RandomImportance)}


def criterion_by_name(name: str, **options: Any) -> ImportanceCriterion:
    """The registered criterion `name` built with `options` (K515 / K516 when they do not exist)."""
    cls = CRITERIA.get(name)
    if cls is None:
        raise ConfigError(Errors.K515.format(name=name, known=", ".join(CRITERIA)))
    accepted = [p.name for p in inspect.signature(cls.__init__).parameters.values()
                if p.name != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(Errors.K516.format(name=name, given=", ".join(unknown),
                                             known=", ".join(accepted) or "no options"))
    return cls(**options)
