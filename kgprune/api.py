"""The Python API, and what the CLI calls: open a knowledge graph, score and prune a model, save
and load the result.

    import kgprune
    kg = kgprune.open_kg()                                   # the default store, or a URL
    pruned, report = kgprune.prune(model, method="knowledge", ratio=0.3, data="bench/", kg=kg)
    kgprune.save_pruned(pruned, "out/")
    pruned = kgprune.load_pruned("out/")

`model` is a kgprune adapter, a path (a `kgprune train` checkpoint, a pruned folder, a Hugging
Face folder), "kgvqa" (the built-in model, trained on first use), or any `nn.Module`: a plain one
is pruned by the data-free criteria (magnitude, random) as it is, and by the others through
`loss=lambda model, batch: ...` over `data=` your batches. A Hugging Face VQA model with its
`processor=` gets the VQA adapter, so the knowledge criterion can retrieve facts for it. What
`prune` returns is the kind of object it was given, pruned in place.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from kgprune.errors import ConfigError, Errors
from kgprune.kg import bundled
from kgprune.kg.coverage import FULL_VIEW, CoverageView
from kgprune.kg.store import GraphStore, default_store_url, open_store
from kgprune.pruning import saved
from kgprune.pruning.data import PruningData
from kgprune.pruning.distributed import (
    check_fits,
    data_from_payload,
    data_payload,
    memory_budget,
    share_from_main,
)
from kgprune.pruning.finetune import FinetuneConfig
from kgprune.pruning.hf_config import fixed_head_groups
from kgprune.pruning.importance import CRITERIA, ImportanceScores
from kgprune.pruning.module_adapter import LossData, LossFn, ModuleAdapter
from kgprune.pruning.plan import PruningPlan
from kgprune.pruning.planner import PlanConfig
from kgprune.pruning.schedule import EventFn, PruneConfig, RoundRecord, score_units
from kgprune.pruning.schedule import prune as run_schedule
from kgprune.pruning.units import discover_units
from kgprune.vqa.adapters.base import ModelAdapter
from kgprune.vqa.adapters.hf_loading import ARCHITECTURES, FAMILIES
from kgprune.vqa.benchmark_run import (
    default_benchmark,
    load_model,
    retrieve_contexts,
    train_builtin,
)
from kgprune.vqa.layouts import open_benchmark
from kgprune.vqa.training import load_trained

BUILTIN = "kgvqa"
DATA_FREE = ("magnitude", "random")
ModelLike = ModelAdapter | nn.Module | str | Path
DataLike = str | Path | PruningData | Iterable[Any] | None


def open_kg(url: str | None = None, *, load_bundled: bool | None = None) -> GraphStore:
    """The graph store at `url` (default: KGPRUNE_STORE, else the embedded store in the data home).

    The bundled mini knowledge graph is loaded into it when `load_bundled` is true (idempotent: a
    second load adds nothing). By default (None) it goes only into kgprune's own data-home store:
    a store named by `url` or KGPRUNE_STORE is the user's graph and is left as it is. Close the
    store when done, or use it as a context manager.
    """
    store = open_store(url or default_store_url())
    if load_bundled:
        bundled.load_bundled(store)
    elif load_bundled is None and url is None:
        bundled.load_if_home(store)
    return store


@dataclass(frozen=True, slots=True)
class TowerRemoval:
    """Units of one kind in one tower: how many there were and how many were removed."""

    tower: str
    kind: str
    total: int
    removed: int


@dataclass(frozen=True)
class PruneReport:
    """What `prune` did. `removed_ratio` is the share of prunable parameters removed."""

    method: str
    ratio: float
    removed_ratio: float
    params_before: int
    params_after: int
    policy: str
    towers: tuple[TowerRemoval, ...]
    plan: PruningPlan
    rounds: tuple[RoundRecord, ...]
    out_dir: Path | None = None
    resumed_from: int = 0
    inputs: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        return (f"Removed {self.removed_ratio:.1%} of prunable parameters ({self.method}, "
                f"{self.policy}); {self.params_after:,} of {self.params_before:,} parameters left")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: paths as strings, the plan by its groups' kept counts per tower."""
        return {"method": self.method, "ratio": self.ratio, "removed_ratio": self.removed_ratio,
                "params_before": self.params_before, "params_after": self.params_after,
                "policy": self.policy,
                "towers": [{"tower": t.tower, "kind": t.kind, "total": t.total,
                            "removed": t.removed} for t in self.towers],
                "rounds": [r.to_dict() | {"plan": None} for r in self.rounds],
                "out": None if self.out_dir is None else str(self.out_dir),
                "resumed_from": self.resumed_from, "inputs": self.inputs}


@dataclass(frozen=True, slots=True)
class _Pruned:
    adapter: ModelAdapter
    plan: PruningPlan
    info: dict[str, Any]


_PRUNED: weakref.WeakKeyDictionary[nn.Module, _Pruned] = weakref.WeakKeyDictionary()
"""Plan and inputs of every model `prune` or `load_pruned` returned, so `save_pruned` needs only
the model."""


def _adapter(model: ModelLike, *, processor: Any, loss: LossFn | None) -> ModelAdapter:
    if isinstance(model, ModelAdapter):
        return model
    if isinstance(model, nn.Module):
        family = ARCHITECTURES.get(type(model).__name__)
        if processor is not None and family is not None:
            return FAMILIES[family]()(model, processor)  # type: ignore[call-arg]
        return ModuleAdapter(model, loss)
    return load_model(Path(model))


def _unwrap(adapter: ModelAdapter, given: object) -> Any:
    """The pruned model as the kind of object the caller gave."""
    if isinstance(given, nn.Module) or isinstance(adapter, ModuleAdapter):
        return adapter.model
    return adapter


@dataclass(frozen=True, slots=True)
class _Inputs:
    adapter: ModelAdapter
    data: PruningData | LossData
    info: dict[str, Any]


def _inputs(model: ModelLike, method: str, *, data: DataLike, kg: GraphStore | str | None,
            view: CoverageView, seed: int, processor: Any, loss: LossFn | None,
            fine_tunes: bool = False, on_event: EventFn | None = None) -> _Inputs:
    """The adapter and the samples it learns from. A benchmark directory (or the built-in one,
    when scoring or fine-tuning needs data and none is given) gets its knowledge retrieved from
    `kg`. `on_event("stage", {"text": ...})` says what is being prepared."""
    emit = on_event or (lambda _name, _data: None)
    if method not in CRITERIA:
        raise ConfigError(Errors.K566.format(method=method, known=", ".join(CRITERIA)))
    is_module = isinstance(model, nn.Module) and not (
        processor is not None and type(model).__name__ in ARCHITECTURES)
    if is_module or isinstance(model, ModuleAdapter):
        adapter = _adapter(model, processor=processor, loss=loss)
        if data is None or isinstance(data, (str, Path, PruningData)):
            if method not in DATA_FREE and data is None:
                raise ConfigError(Errors.K590.format(what=f"be scored by '{method}' without data"))
            return _Inputs(adapter, LossData(()) if data is None else data,  # type: ignore[arg-type]
                           {"model": type(adapter.model).__name__, "family": adapter.family})
        return _Inputs(adapter, LossData(data), {"model": type(adapter.model).__name__,
                                                 "family": adapter.family, "data": "batches"})
    if isinstance(data, PruningData):
        adapter = _adapter(model, processor=processor, loss=loss)
        return _Inputs(adapter, data, {"family": adapter.family, "data": "PruningData"})
    if data is None and method in DATA_FREE and not fine_tunes and model != BUILTIN:
        adapter = _adapter(model, processor=processor, loss=loss)
        name = str(model) if isinstance(model, (str, Path)) else type(adapter.model).__name__
        return _Inputs(adapter, PruningData((), (), (), ()),
                       {"model": name, "family": adapter.family})
    if data is not None and not isinstance(data, (str, Path)):
        raise ConfigError(Errors.K594.format(
            what=f"data= for a {type(model).__name__} is a {type(data).__name__}.",
            fix="a benchmark directory or a PruningData (batches with loss= are for plain modules)"))
    info, pruning_data, _ = share_from_main(
        lambda: _retrieve(model, data, kg, view, seed, emit),
        lambda made: {"info": made[0], "data": data_payload(made[1], made[2])},
        lambda sent: (sent["info"], data_from_payload(sent["data"]), sent["data"]["images"]))
    if model == BUILTIN:
        adapter: ModelAdapter = load_trained(Path(info["model"]))
    else:
        adapter = _adapter(model, processor=processor, loss=loss)
        if not isinstance(model, (str, Path)):
            info["model"] = type(adapter.model).__name__
    return _Inputs(adapter, pruning_data, {**info, "family": adapter.family})


def _retrieve(model: ModelLike, data: str | Path | None, kg: GraphStore | str | None,
              view: CoverageView, seed: int,
              emit: EventFn) -> tuple[dict[str, Any], PruningData, list[str]]:
    """Open the KG, train the built-in model if asked, retrieve the benchmark's training split's
    knowledge: the run's info (with the model path), the samples and their image paths.

    Under torchrun only rank 0 runs this (the embedded store admits one writer); the other ranks
    receive its result through `share_from_main`."""
    emit("stage", {"text": "Opening the knowledge graph"})
    store = kg if isinstance(kg, GraphStore) else open_kg(kg)
    try:
        emit("stage", {"text": "Preparing the benchmark"})
        data_dir = Path(data) if data is not None else default_benchmark(store, seed=0)
        benchmark = open_benchmark(data_dir)
        samples = benchmark.split("train")
        emit("stage", {"text": f"Retrieving knowledge for {len(samples)} questions"})
        contexts = retrieve_contexts(store, data_dir, samples, view=view)
        path: Path | None = Path(model) if isinstance(model, (str, Path)) else None
        if model == BUILTIN:
            emit("stage", {"text": "Training the built-in model (once; cached in the data home)"})
            path = train_builtin(store, data_dir, seed=seed)
        info = {"model": str(path), "data": str(data_dir), "dataset": benchmark.record(),
                "store": store.url, "kg_version": store.version(), "view": view.to_dict(),
                "kg_facts_in_view": store.stats(view).facts, "train_samples": len(samples)}
    finally:
        if not isinstance(kg, GraphStore):
            store.close()
    images = [str(sample.image_path) for sample in samples]
    return info, PruningData.from_samples(samples, contexts), images


def _towers(plan: PruningPlan) -> tuple[TowerRemoval, ...]:
    totals: dict[tuple[str, str], list[int]] = {}
    for g in plan.groups:
        entry = totals.setdefault((g.tower, g.kind), [0, 0])
        entry[0] += g.total
        entry[1] += g.total - len(g.kept)
    return tuple(TowerRemoval(t, k, total, removed)
                 for (t, k), (total, removed) in totals.items())


def prune(model: ModelLike, method: str = "magnitude", ratio: float = 0.3, *,
          data: DataLike = None, kg: GraphStore | str | None = None,
          loss: LossFn | None = None, processor: Any = None, policy: str = "global",
          normalize: str = "tower_kind",
          rounds: int = 1, steps: int = 0, lam: float = 0.5, view: CoverageView = FULL_VIEW,
          seed: int = 0, samples: int = 256, batch_size: int = 32, lr: float = 5e-4,
          distill: float = 0.0, compensate: bool = False, target: str = "params",
          gqa_mode: str = "groups", min_heads: int = 1, neuron_multiple: int = 1,
          protect: Sequence[str] = (), scores: ImportanceScores | str | Path | None = None,
          out: str | Path | None = None, on_event: EventFn | None = None) -> tuple[Any, PruneReport]:
    """Remove `ratio` of the prunable parameters (heads and FFN neurons) of `model`, least
    important first by `method`, in `rounds` rounds with `steps` fine-tuning steps each
    (L_task + lam·L_knowledge; VQA adapters only).

    `policy="uniform"` removes the same number of heads and neurons from every layer of a tower,
    so a Hugging Face config can describe the result (heads it cannot count are kept whole).
    `normalize` (one of `planner.NORMALIZATIONS`) says how scores of different towers and unit
    kinds are made comparable before the global ranking.
    `scores` (an `ImportanceScores` or the path `kgprune importance` wrote) replace the first
    round's scoring. With `out` the rounds are checkpointed and the result saved there (an
    interrupted run resumes); without it nothing is written.
    Returns the pruned model (the kind of object given) and a `PruneReport`.
    """
    if isinstance(scores, (str, Path)):
        scores = ImportanceScores.load(scores)
    if scores is not None:
        method = scores.criterion
    if method not in CRITERIA:
        raise ConfigError(Errors.K566.format(method=method, known=", ".join(CRITERIA)))
    config = PruneConfig(
        method=method, ratio=ratio, rounds=rounds, importance_samples=samples,
        importance_batch=batch_size, lam=lam, compensate=compensate, seed=seed,
        plan=PlanConfig(ratio=ratio, target=target, min_heads=min_heads,
                        neuron_multiple=neuron_multiple, protected=tuple(protect),
                        gqa_mode=gqa_mode, normalize=normalize, policy=policy),
        finetune=FinetuneConfig(steps=steps, batch_size=batch_size, lr=lr, lam=lam,
                                distill=distill, seed=seed))
    if out is not None and isinstance(model, (str, Path)) and model != BUILTIN and \
            Path(model).resolve() == Path(out).resolve():
        raise ConfigError(Errors.K563.format(path=out, problem="it is the input model"))
    inputs = _inputs(model, method, data=data, kg=kg, view=view, seed=seed,
                     processor=processor, loss=loss, fine_tunes=steps > 0, on_event=on_event)
    adapter = inputs.adapter
    check_fits(adapter.model, memory_budget(loaded=adapter.model), trainable=steps > 0)
    if steps and isinstance(adapter, ModuleAdapter):
        raise ConfigError(Errors.K594.format(
            what="Fine-tuning needs a VQA adapter (images, questions, answers).",
            fix="steps=0 for a plain module and fine-tune it your own way"))
    if policy == "uniform" and adapter.family not in (BUILTIN, "module"):
        fixed = fixed_head_groups(adapter.model, discover_units(adapter.model))
        config = replace(config, plan=replace(config.plan,
                                              protected=config.plan.protected + fixed))
        if fixed:
            inputs.info["heads_kept_whole"] = (
                f"{len(fixed)} attention modules: {type(adapter.model.config).__name__} derives "
                "the head size from hidden_size / num_attention_heads, so fewer heads could not "
                "be described in config.json")
    teacher = None
    if distill:  # the unpruned model, as loaded again or copied before it is pruned in place
        teacher = load_model(Path(inputs.info["model"])) if isinstance(model, (str, Path)) \
            else copy.deepcopy(adapter)
    before = sum(p.numel() for p in adapter.model.parameters())
    result = run_schedule(adapter, inputs.data, config,  # type: ignore[arg-type]
                          None if out is None else Path(out), teacher=teacher, info=inputs.info,
                          on_event=on_event, scores=scores)
    pruned = result.adapter
    _PRUNED[pruned.model] = _Pruned(pruned, result.plan, dict(inputs.info))
    report = PruneReport(
        method=method, ratio=ratio, removed_ratio=result.plan.removed_ratio,
        params_before=before, params_after=sum(p.numel() for p in pruned.model.parameters()),
        policy=policy, towers=_towers(result.plan), plan=result.plan, rounds=result.rounds,
        out_dir=result.out_dir, resumed_from=result.resumed_from, inputs=inputs.info)
    return _unwrap(pruned, model), report


def score(model: ModelLike, method: str = "magnitude", *, data: DataLike = None,
          kg: GraphStore | str | None = None, loss: LossFn | None = None, processor: Any = None,
          lam: float = 0.5, view: CoverageView = FULL_VIEW, seed: int = 0, samples: int = 256,
          batch_size: int = 32, on_event: EventFn | None = None) -> ImportanceScores:
    """The importance of every head and neuron of `model` by `method`; the model is unchanged.
    `scores.save(path)` writes them for `prune(..., scores=path)`."""
    inputs = _inputs(model, method, data=data, kg=kg, view=view, seed=seed,
                     processor=processor, loss=loss, on_event=on_event)
    (on_event or (lambda _name, _data: None))(
        "stage", {"text": f"Scoring units ({method}, {samples} samples)"})
    config = PruneConfig(method=method, importance_samples=samples, importance_batch=batch_size,
                         lam=lam, seed=seed)
    return score_units(inputs.adapter, inputs.data, config,  # type: ignore[arg-type]
                       meta={**inputs.info, "samples_asked": samples})


def save_pruned(model: Any, out_dir: str | Path, *, plan: PruningPlan | None = None,
                info: Mapping[str, Any] | None = None) -> Path:
    """Write a model that `prune` or `load_pruned` returned (or any model with its `plan`) to the
    new directory `out_dir`: weights, manifest, model card, and a config.json that plain
    `from_pretrained` loads when the plan is uniform. Returns the directory."""
    module = model.model if isinstance(model, ModelAdapter) else model
    known = _PRUNED.get(module)
    if plan is None and known is None:
        raise ConfigError(Errors.K594.format(
            what=f"No pruning plan is known for this {type(module).__name__}.",
            fix="a model returned by kgprune.prune or kgprune.load_pruned, or plan=..."))
    adapter = model if isinstance(model, ModelAdapter) else (
        known.adapter if known is not None else ModuleAdapter(module))
    chosen = plan if plan is not None else known.plan  # type: ignore[union-attr]
    recorded = {**(known.info if known is not None else {}), **dict(info or {})}
    return saved.save_pruned(adapter, chosen, out_dir, info=recorded)


def load_pruned(directory: str | Path, *, model: nn.Module | None = None) -> Any:
    """The model saved in `directory`, as the kind of object that was saved: a kgprune adapter
    (kgvqa, ViLT, BLIP, LLaVA with their processors) or the bare module. A plain module's folder
    needs `model`, an unpruned instance of its class (left unchanged)."""
    adapter, manifest = saved.load_with_manifest(directory, model=model)
    _PRUNED[adapter.model] = _Pruned(adapter, PruningPlan.from_dict(manifest["plan"]),
                                     dict(manifest.get("info", {})))
    return adapter.model if isinstance(adapter, ModuleAdapter) else adapter

