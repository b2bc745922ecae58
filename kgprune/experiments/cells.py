"""The cell runner behind every study: prune the trained model as a cell says, evaluate, measure.

`prepare` does what all cells share once per session: the knowledge graph, the benchmark, the
trained model (trained on first use and cached in the data home), the knowledge contexts, and
the unpruned model's latency and FLOPs that speedups are relative to. Each cell then starts from
a fresh copy of the trained model, so cells never leak into each other. Importance and
fine-tuning see the cell's coverage view; evaluation and hallucination always use the full KG.
Every method gets the same scoring samples, fine-tuning steps and evaluation split.

Every pruned cell is evaluated twice: right after its units are removed ("one-shot", before any
fine-tuning; with one round that is the very model then fine-tuned, with more rounds it is the
model pruned to the full ratio in one round) and after fine-tuning. Importance is scored on the
cell's scoring samples (`kgprune.experiments.labels`: with, without or with few human answers);
fine-tuning always uses the whole labelled training split, so methods differ only in scoring.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from kgprune.errors import Errors, ExperimentError
from kgprune.experiments.agreement import RankAgreement
from kgprune.experiments.evaluation import Quality, evaluate
from kgprune.experiments.labels import ScoringSets, scoring_sets
from kgprune.experiments.records import CellResult
from kgprune.experiments.spec import FULL, Cell, Settings, StudySpec
from kgprune.kg import bundled
from kgprune.kg.coverage import FULL_VIEW, CoverageView
from kgprune.kg.store import default_store_url, open_store
from kgprune.linking.encoder import encoder_by_name
from kgprune.pruning.data import PruningData
from kgprune.pruning.finetune import FinetuneConfig
from kgprune.pruning.importance import CRITERIA
from kgprune.pruning.measure import count_flops, parameter_counts, synthetic_inputs
from kgprune.pruning.planner import PlanConfig
from kgprune.pruning.quantize import quantize_int8
from kgprune.pruning.schedule import PruneConfig, prune
from kgprune.pruning.speedup import paired_latency
from kgprune.pruning.units import discover_units
from kgprune.retrieval.facts import FactEmbeddings, KnowledgeContext
from kgprune.vqa.adapters.base import ModelAdapter
from kgprune.vqa.benchmark_run import (
    default_benchmark,
    load_model,
    retrieve_contexts,
    train_builtin,
)
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.hallucination import hallucination_rate
from kgprune.vqa.layouts import Benchmark, open_benchmark
from kgprune.vqa.synthetic import VARIANTS
from kgprune.vqa.training import (
    majority_accuracy,
    open_image,
    sample_id,
)

BUILTIN = "kgvqa"
MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class _Size:
    params: int
    param_bytes: int
    flops: int
    """FLOPs to answer one sample."""


def _size(adapter: ModelAdapter) -> _Size:
    params, size = parameter_counts(adapter.model)
    images, questions = synthetic_inputs(1)
    flops = count_flops(lambda: adapter.predict(adapter.prepare(images, questions)))
    return _Size(params, size, flops)


@dataclass(frozen=True, slots=True)
class _Pruned:
    """The last pruned model, kept for the next cells that differ only in evaluation set or
    quantisation (the study grid puts them next to each other)."""

    key: tuple[Any, ...]
    adapter: ModelAdapter
    metrics: dict[str, float]
    one_shot: torch.nn.Module | None
    """The model right after pruning, before fine-tuning (None for the full model)."""


def _prune_key(cell: Cell) -> tuple[Any, ...]:
    return (cell.method, cell.ratio, cell.seed, cell.lam, cell.coverage, cell.strategy,
            cell.tower, cell.layer_range, cell.train_data, cell.normalize, cell.steps,
            cell.labels)


def _protected(adapter: ModelAdapter, cell: Cell) -> tuple[str, ...]:
    """Every `tower:layer` outside the cell's tower and layer range: the planner leaves them."""
    if not cell.tower and cell.layer_range is None:
        return ()
    low, high = cell.layer_range or (0, 10**9)
    units = discover_units(adapter.model)
    inside = [g for g in units if (not cell.tower or g.tower == cell.tower)
              and low <= g.layer <= high]
    if not inside:
        found = sorted({f"{g.tower}:{g.layer}" for g in units})
        raise ExperimentError(Errors.K630.format(cell=cell.cell_id, found=", ".join(found)))
    return tuple(sorted({f"{g.tower}:{g.layer}" for g in units if g not in inside}))


class PruningCellRunner:
    """`CellRunner` over the built-in benchmark (or `Settings.data`) and a trained model."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store_url = settings.store or default_store_url()
        self._data_dirs: dict[str, Benchmark] = {}
        self._samples: dict[tuple[str, str], list[VqaSample]] = {}
        self._contexts: dict[tuple[str, str, CoverageView], dict[str, KnowledgeContext]] = {}
        self._embeddings: FactEmbeddings | None = None
        self._model_path: Path | None = None
        self._base: ModelAdapter | None = None
        self._base_size: _Size | None = None
        self._pruned: _Pruned | None = None
        self._train: tuple[tuple[str, CoverageView], PruningData] | None = None
        self._images: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._agreement: RankAgreement | None = None

    # -- shared inputs --------------------------------------------------------------------------

    def _benchmark(self, name: str) -> Benchmark:
        """'' is the study's dataset; a built-in variant name, or a synthetic, OK-VQA or FVQA
        folder (`kgprune.vqa.layouts`)."""
        name = name or self.settings.data
        if name not in self._data_dirs:
            if not name or name in VARIANTS:
                with open_store(self.store_url) as store:
                    path = default_benchmark(store, seed=0, n=self.settings.images,
                                             variant=name or "standard")
            else:
                path = Path(name)
                if not path.is_dir():
                    raise ExperimentError(Errors.K631.format(name=name,
                                                             variants=", ".join(VARIANTS)))
            self._data_dirs[name] = open_benchmark(path)
        return self._data_dirs[name]

    def _data_dir(self, name: str) -> Path:
        return self._benchmark(name).root

    def _split(self, data: str, split: str) -> list[VqaSample]:
        key = (data, split)
        if key not in self._samples:
            self._samples[key] = self._benchmark(data).split(split)
        return self._samples[key]

    def _contexts_for(self, data: str, split: str,
                      view: CoverageView = FULL_VIEW) -> dict[str, KnowledgeContext]:
        view = view.canonical()
        key = (data, split, view)
        if key not in self._contexts:
            # One set of fact embeddings for every view and split: their facts overlap.
            if self._embeddings is None:
                self._embeddings = FactEmbeddings(encoder_by_name("auto"))
            with open_store(self.store_url) as store:
                self._contexts[key] = retrieve_contexts(store, self._data_dir(data),
                                                        self._split(data, split), view=view,
                                                        embeddings=self._embeddings)
        return self._contexts[key]

    def prepare(self, spec: StudySpec) -> Mapping[str, Any]:
        unknown = sorted({c.method for c in spec.cells()} - {FULL, *CRITERIA})
        if unknown:
            raise ExperimentError(Errors.K632.format(methods=", ".join(unknown),
                                                     known=", ".join([FULL, *CRITERIA])))
        with open_store(self.store_url) as store:
            if not self.settings.store:
                bundled.load_if_home(store)
            stats, version = store.stats(), store.version()
        data_dir = self._data_dir("")
        if self.settings.model == BUILTIN:
            with open_store(self.store_url) as store:
                self._model_path = train_builtin(store, data_dir, seed=0)
        else:
            self._model_path = Path(self.settings.model)
        base = self._base = load_model(self._model_path)
        self._base_size = _size(base)
        if spec.compares_criteria:
            methods = list(dict.fromkeys(c.method for c in spec.cells()))
            self._agreement = RankAgreement(base, methods, batch_size=self.settings.batch_size)
        prunable = discover_units(base.model).num_params
        return {"model": str(self._model_path), "family": base.family, "data": str(data_dir),
                "dataset": self._benchmark("").record(),
                "store": self.store_url, "kg_version": version,
                "kg": {"concepts": stats.concepts, "facts": stats.facts},
                "train_samples": len(self._split("", "train")),
                "eval_samples": len(self._split("", self.settings.eval_split)),
                "base_params": self._base_size.params,
                "prunable_params": prunable,
                "prunable_share": prunable / self._base_size.params,
                "base_flops_per_sample": self._base_size.flops}

    def _train_data(self, name: str, view: CoverageView) -> PruningData:
        """The labelled training split with knowledge targets through `view` (the last one is
        kept: consecutive cells mostly share it)."""
        key = (name, view.canonical())
        if self._train is None or self._train[0] != key:
            samples = self._split(name, "train")
            self._train = (key, PruningData.from_samples(samples,
                                                         self._contexts_for(name, "train", view)))
        return self._train[1]

    def _eval_images(self, data: str, split: str) -> tuple[Any, ...]:
        key = (data, split)
        if key not in self._images:
            self._images[key] = tuple(open_image(s) for s in self._split(data, split))
        return self._images[key]

    # -- one cell -------------------------------------------------------------------------------

    def _scoring(self, cell: Cell, train: PruningData, labels: int | None) -> ScoringSets:
        return scoring_sets(train, samples=self.settings.importance_samples, labels=labels,
                            seed=cell.seed)

    def _pruned_model(self, cell: Cell) -> _Pruned:
        key = _prune_key(cell)
        if self._pruned is not None and self._pruned.key == key:
            return self._pruned
        assert self._model_path is not None, "prepare() runs before any cell"
        adapter = load_model(self._model_path)
        metrics: dict[str, float] = {}
        one_shot: torch.nn.Module | None = None
        if cell.method != FULL:
            s = self.settings
            view = CoverageView(cell.coverage, cell.seed, cell.strategy)
            train = self._train_data(cell.train_data, view)
            sets = self._scoring(cell, train, cell.labels)
            plan = PlanConfig(ratio=cell.ratio, protected=_protected(adapter, cell),
                              normalize=cell.normalize or s.normalize)
            config = PruneConfig(
                method=cell.method, ratio=cell.ratio, rounds=s.rounds,
                importance_samples=len(sets.scored), importance_batch=s.batch_size,
                lam=cell.lam, seed=cell.seed, plan=plan,
                finetune=FinetuneConfig(steps=s.steps if cell.steps is None else cell.steps,
                                        batch_size=s.batch_size, lr=s.lr, lam=cell.lam,
                                        seed=cell.seed))
            kept: list[torch.nn.Module] = []

            def keep_one_shot(round_index: int, pruned: ModelAdapter) -> None:
                if round_index == 1 and config.rounds == 1:
                    kept.append(copy.deepcopy(pruned.model))

            with tempfile.TemporaryDirectory(prefix="kgprune-cell-") as work:
                result = prune(adapter, train, config, Path(work) / "model",
                               scoring=sets.scored, on_pruned=keep_one_shot)
                if not kept:  # several rounds: the one-shot model is one round, no fine-tuning
                    once = replace(config, rounds=1, finetune=replace(config.finetune, steps=0))
                    kept.append(prune(load_model(self._model_path), train, once,
                                      Path(work) / "one-shot", scoring=sets.scored).adapter.model)
            one_shot = kept[0]
            adapter = result.adapter
            metrics = {"removed_ratio": result.plan.removed_ratio,
                       "importance_s": sum(r.importance_seconds for r in result.rounds),
                       "finetune_s": sum(r.finetune["seconds"] for r in result.rounds),
                       "step_s": statistics.median(r.finetune["median_step_seconds"]
                                                   for r in result.rounds)}
            if self._agreement is not None:
                metrics |= self._agreement.metrics(
                    cell.method, cell.seed, cell.labels, view, plan, sets,
                    lambda: self._scoring(cell, train, None))
        self._pruned = _Pruned(key, adapter, metrics, one_shot)
        return self._pruned

    def _quality(self, adapter: ModelAdapter, cell: Cell) -> Quality:
        data, split = cell.eval_data or cell.train_data, self.settings.eval_split
        return evaluate(adapter, self._eval_images(data, split), self._split(data, split))

    def run(self, cell: Cell) -> CellResult:
        assert self._base is not None and self._base_size is not None, "prepare() runs first"
        pruned = self._pruned_model(cell)
        adapter, float_model = pruned.adapter, pruned.adapter.model
        eval_data = cell.eval_data or cell.train_data
        samples = self._split(eval_data, self.settings.eval_split)
        try:
            early = None
            if pruned.one_shot is not None:
                adapter.model = pruned.one_shot
                early = self._quality(adapter, cell)
            adapter.model = quantize_int8(float_model) if cell.quantize == "int8" else float_model
            late = self._quality(adapter, cell)
            early = late if early is None else early  # the full model is its own one-shot
            contexts = self._contexts_for(eval_data, self.settings.eval_split)
            with open_store(self.store_url) as store:
                hallucination = hallucination_rate(
                    samples, {s.question_id: p for s, p in zip(samples, late.predictions,
                                                               strict=True)},
                    [contexts[sample_id(s)] for s in samples], store)
            size = _size(adapter)
            timing = paired_latency(self._base, adapter, batch_sizes=(1, 32),
                                    pairs=3 if self.settings.quick else 10)
        finally:
            adapter.model = float_model
        base = self._base_size
        metrics = {
            **pruned.metrics,
            "oneshot_accuracy": early.accuracy, "oneshot_ce": early.cross_entropy,
            "accuracy": late.accuracy, "test_ce": late.cross_entropy,
            "hallucination": 100 * hallucination.rate,
            "majority_accuracy": majority_accuracy(self._split(cell.train_data, "train"),
                                                   samples),
            "params": size.params, "params_ratio": size.params / base.params,
            "params_removed": 1 - size.params / base.params,
            "flops_ratio": size.flops / base.flops, "ideal_speedup": base.flops / size.flops,
            "speedup": timing[32].speedup, "speedup_b1": timing[1].speedup,
            "latency_ms_b1": timing[1].other_ms, "latency_ms_b32": timing[32].other_ms,
            "memory_mb": size.param_bytes / MiB,
        }
        return CellResult(metrics, {"threads": str(torch.get_num_threads())})


def default_runner(spec: StudySpec) -> PruningCellRunner:
    return PruningCellRunner(spec.settings)
