"""`kgprune prune` and `kgprune importance`: score, plan, slice and fine-tune a model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kgprune.commands.common import (
    RESUME,
    JsonOpt,
    StoreOpt,
    StrategyOpt,
    err,
    interruptible,
    out,
    print_json,
    training_split,
    view_of,
)
from kgprune.errors import ConfigError, Errors
from kgprune.kg.coverage import CoverageView
from kgprune.pruning.data import PruningData
from kgprune.pruning.distributed import (
    check_fits,
    data_from_payload,
    data_payload,
    init_from_env,
    is_main_process,
    memory_budget,
    share_from_main,
)
from kgprune.pruning.finetune import FinetuneConfig
from kgprune.pruning.importance import CRITERIA
from kgprune.pruning.planner import NORMALIZATIONS, PlanConfig
from kgprune.pruning.schedule import PruneConfig, prune, score_units
from kgprune.vqa.adapters.base import ModelAdapter
from kgprune.vqa.benchmark_run import (
    load_model,
    train_builtin,
)
from kgprune.vqa.training import load_trained

BUILTIN = "kgvqa"
ModelOpt = Annotated[str, typer.Option(
    "--model", help="'kgvqa' (the built-in model, trained on the benchmark on first use), a "
    "`kgprune train` checkpoint, a pruned model directory or a Hugging Face model folder.")]
MethodOpt = Annotated[str, typer.Option("--method", help=f"Importance: {', '.join(CRITERIA)}.")]
DataOpt = Annotated[Path | None, typer.Option(
    "--data", help="A `kgprune vqa make-synthetic`, OK-VQA or FVQA folder (default: the "
    "built-in benchmark).")]
CoverageLevelOpt = Annotated[float, typer.Option(
    "--coverage", help="Share of the KG that importance and fine-tuning see (evaluation always "
    "uses the full KG).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the run and of the coverage view.")]
SamplesOpt = Annotated[int, typer.Option("--samples", help="Samples scored for importance.")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", help="Samples per batch.")]


@dataclass(frozen=True, slots=True)
class Inputs:
    adapter: ModelAdapter
    data: PruningData
    info: dict[str, Any]


def _check_method(method: str) -> None:
    if method not in CRITERIA:
        raise ConfigError(Errors.K566.format(method=method, known=", ".join(CRITERIA)))


def _retrieve(model: str, data: Path | None, store: str | None, view: CoverageView,
              seed: int) -> tuple[dict[str, Any], PruningData, list[str]]:
    """Open the store, train the built-in model if asked, retrieve the training split's knowledge:
    the run's info (with the model path), the samples and their image paths."""
    with training_split(store, data, view) as split:
        s, data_dir, samples = split.store, split.data_dir, split.samples
        if model == BUILTIN:
            with err.status("Training the built-in model (once; cached in the data home)"):
                path = train_builtin(s, data_dir, seed=seed)
        else:
            path = Path(model)
        stats = s.stats(view)
        info = {"model": str(path), "data": str(data_dir),
                "dataset": split.dataset, "store": split.url,
                "kg_version": s.version(),
                "view": {"level": view.level, "seed": view.seed, "strategy": str(view.strategy),
                         "source": view.source},
                "kg_facts_in_view": stats.facts, "train_samples": len(samples)}
        images = [str(sample.image_path) for sample in samples]
        return info, PruningData.from_samples(samples, split.contexts), images


def _inputs(model: str, data: Path | None, store: str | None, view: CoverageView,
            seed: int) -> Inputs:
    """The model to prune and its training samples with knowledge retrieved through `view`.

    Under torchrun only rank 0 opens the store (the embedded store admits one writer) and trains
    the built-in model; the other ranks receive the model path and the samples from it."""
    info, pruning_data, _ = share_from_main(
        lambda: _retrieve(model, data, store, view, seed),
        lambda made: {"info": made[0], "data": data_payload(made[1], made[2])},
        lambda sent: (sent["info"], data_from_payload(sent["data"]), sent["data"]["images"]))
    path = Path(info["model"])
    adapter: ModelAdapter = load_trained(path) if model == BUILTIN else load_model(path)
    return Inputs(adapter, pruning_data, {**info, "family": adapter.family})


def _round_table(result: Any) -> Table:
    table = Table(title=f"Pruned to {result.plan.removed_ratio:.1%} of prunable parameters "
                  f"({result.plan.criterion})", caption=f"saved in {result.out_dir}")
    for column in ("round", "removed", "parameters", "importance s", "fine-tune s", "loss"):
        table.add_column(column, justify="right")
    for r in result.rounds:
        table.add_row(str(r.round), f"{r.removed_ratio:.1%}", f"{r.params:,}",
                      f"{r.importance_seconds:.2f}", f"{r.finetune['seconds']:.1f}",
                      f"{r.finetune['mean_loss']:.3f}")
    return table


@interruptible(RESUME)
def prune_cmd(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the pruned model is written "
                                          "(never overwritten; an interrupted run resumes).")],
    model: ModelOpt = BUILTIN,
    method: MethodOpt = "knowledge",
    ratio: Annotated[float, typer.Option(help="Share of prunable parameters to remove, "
                                         "in [0, 1).")] = 0.3,
    rounds: Annotated[int, typer.Option(help="Pruning rounds, each followed by fine-tuning.")] = 3,
    steps: Annotated[int, typer.Option(help="Fine-tuning steps per round.")] = 30,
    lam: Annotated[float, typer.Option("--lambda", help="λ of L_knowledge in fine-tuning.")] = 0.5,
    data: DataOpt = None,
    store: StoreOpt = None,
    coverage: CoverageLevelOpt = 1.0,
    strategy: StrategyOpt = "edge",
    seed: SeedOpt = 0,
    samples: SamplesOpt = 256,
    batch_size: BatchSizeOpt = 32,
    lr: Annotated[float, typer.Option("--lr", help="Fine-tuning learning rate.")] = 5e-4,
    distill: Annotated[float, typer.Option(help="Weight of logit distillation from the "
                                           "unpruned model (0: off).")] = 0.0,
    compensate: Annotated[bool, typer.Option(help="Bias compensation for removed FFN "
                                             "neurons.")] = False,
    target: Annotated[str, typer.Option(help="What --ratio is a share of: 'params' or "
                                        "'flops' (of the prunable units).")] = "params",
    gqa_mode: Annotated[str, typer.Option(help="GQA: remove whole KV 'groups' or the same "
                                          "number of query 'heads' per group.")] = "groups",
    min_heads: Annotated[int, typer.Option(help="Heads every attention module keeps.")] = 1,
    neuron_multiple: Annotated[int, typer.Option(help="Round kept FFN neurons to a "
                                                 "multiple of this.")] = 1,
    normalize: Annotated[str, typer.Option(
        help=f"How scores are made comparable before the global ranking: "
        f"{', '.join(NORMALIZATIONS)} ('tower_kind': each tower's heads and its neurons "
        "rescaled to mean 1 apart; 'tower': each tower; 'none': raw score per parameter, "
        "so a criterion can prune one tower more than another).")] = "tower_kind",
    protect: Annotated[list[str] | None, typer.Option(
        help="Protected groups: a module-path pattern or tower:layer (repeatable).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Prune heads and FFN neurons by importance, in rounds, fine-tuning with L_task + λ·L_knowledge."""
    _check_method(method)
    config = PruneConfig(
        method=method, ratio=ratio, rounds=rounds, importance_samples=samples,
        importance_batch=batch_size, lam=lam, compensate=compensate, seed=seed,
        plan=PlanConfig(ratio=ratio, target=target, min_heads=min_heads,
                        neuron_multiple=neuron_multiple, protected=tuple(protect or ()),
                        gqa_mode=gqa_mode, normalize=normalize),
        finetune=FinetuneConfig(steps=steps, batch_size=batch_size, lr=lr, lam=lam,
                                distill=distill, seed=seed))
    init_from_env()
    if model != BUILTIN and Path(model).resolve() == out_dir.resolve():
        raise ConfigError(Errors.K563.format(path=out_dir, problem="it is the input model"))
    inputs = _inputs(model, data, store, view_of(coverage, seed, strategy), seed)
    check_fits(inputs.adapter.model, memory_budget(loaded=inputs.adapter.model),
               trainable=steps > 0)
    teacher = load_model(Path(inputs.info["model"])) if distill else None
    columns = (TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        bar = progress.add_task(f"Round 1/{rounds}: importance ({method})", total=None)

        def on_event(name: str, data: dict[str, Any]) -> None:
            if name == "importance":
                progress.update(bar, description=f"Round {data['round']}/{rounds}: fine-tuning",
                                completed=0, total=steps)
            elif name == "finetune_step":
                progress.update(bar, completed=data["step"], total=data["total"])
            elif name == "round" and data["round"] < rounds:
                progress.update(bar, description=f"Round {data['round'] + 1}/{rounds}: "
                                f"importance ({method})", completed=0, total=None)

        result = prune(inputs.adapter, inputs.data, config, out_dir, teacher=teacher,
                       info=inputs.info, on_event=on_event)
    if not is_main_process():
        return
    if as_json:
        print_json({"out": str(result.out_dir), "resumed_from": result.resumed_from,
                    "removed_ratio": result.plan.removed_ratio,
                    "rounds": [r.to_dict() | {"plan": None} for r in result.rounds],
                    "inputs": inputs.info})
        return
    if result.resumed_from:
        err.print(f"Resumed after round {result.resumed_from}", highlight=False)
    out.print(_round_table(result))


def importance_cmd(
    out_path: Annotated[Path, typer.Option("--out", help="Scores are written to OUT.safetensors "
                                           "and OUT.json.")],
    model: ModelOpt = BUILTIN,
    method: MethodOpt = "knowledge",
    lam: Annotated[float, typer.Option("--lambda", help="λ of the combined and taylor "
                                       "criteria.")] = 0.5,
    data: DataOpt = None,
    store: StoreOpt = None,
    coverage: CoverageLevelOpt = 1.0,
    strategy: StrategyOpt = "edge",
    seed: SeedOpt = 0,
    samples: SamplesOpt = 256,
    batch_size: BatchSizeOpt = 32,
    as_json: JsonOpt = False,
) -> None:
    """Score every head and FFN neuron and save the scores; the model is left unchanged."""
    _check_method(method)
    config = PruneConfig(method=method, importance_samples=samples, importance_batch=batch_size,
                         lam=lam, seed=seed)
    init_from_env()
    inputs = _inputs(model, data, store, view_of(coverage, seed, strategy), seed)
    with err.status(f"Scoring units ({method}, {samples} samples)"):
        scores = score_units(inputs.adapter, inputs.data, config,
                             meta={**inputs.info, "samples_asked": samples})
    if not is_main_process():
        return
    saved = scores.save(out_path)
    summary = {key: {"units": int(v.numel()), "mean": float(v.mean()), "min": float(v.min()),
                     "max": float(v.max())} for key, v in scores.scores.items()}
    if as_json:
        print_json({"out": str(saved), "criterion": scores.criterion, "samples": scores.samples,
                    "groups": summary})
        return
    table = Table(title=f"{scores.criterion} importance over {scores.samples} samples",
                  caption=f"saved to {saved}")
    for column in ("group", "units", "mean", "min", "max"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for key, row in summary.items():
        table.add_row(key, str(row["units"]), f"{row['mean']:.3g}", f"{row['min']:.3g}",
                      f"{row['max']:.3g}")
    out.print(table)
