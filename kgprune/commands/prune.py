"""`kgprune prune` and `kgprune importance`: thin wrappers of `kgprune.prune` and `kgprune.score`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from kgprune import api
from kgprune.commands.common import (
    RESUME,
    CountColumn,
    JsonOpt,
    LambdaOpt,
    StoreOpt,
    StrategyOpt,
    interruptible,
    live_progress,
    out,
    print_json,
    status,
    view_of,
)
from kgprune.pruning.distributed import init_from_env, is_main_process
from kgprune.pruning.importance import CRITERIA
from kgprune.pruning.planner import NORMALIZATIONS, POLICIES

BUILTIN = api.BUILTIN
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


def _round_table(report: api.PruneReport) -> Table:
    table = Table(title=f"{report.summary()}",
                  caption=f"saved in {report.out_dir}" if report.out_dir else None)
    for column in ("round", "removed", "parameters", "importance s", "fine-tune s", "loss"):
        table.add_column(column, justify="right")
    for r in report.rounds:
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
    lam: LambdaOpt = 0.5,
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
    policy: Annotated[str, typer.Option(
        help=f"Layer policy: {' or '.join(POLICIES)} (the same count in every layer of a tower; "
             "the saved config.json then loads with plain from_pretrained).")] = "global",
    scores: Annotated[Path | None, typer.Option(
        help="Reuse `kgprune importance --out` scores for the first round (their criterion "
             "replaces --method).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Prune heads and FFN neurons by importance, in rounds, fine-tuning with L_task + λ·L_knowledge."""
    init_from_env()
    columns = (TextColumn("{task.description}"), BarColumn(), CountColumn(), TimeElapsedColumn())
    with live_progress(*columns) as progress:
        bar = progress.add_task("Preparing", total=None)

        def on_event(name: str, data: Any) -> None:
            if name == "stage":
                progress.update(bar, description=data["text"])
            elif name == "importance":
                progress.update(bar, description=f"Round {data['round']}/{rounds}: fine-tuning",
                                completed=0, total=steps)
            elif name == "finetune_step":
                progress.update(bar, completed=data["step"], total=data["total"])
            elif name == "round" and data["round"] < rounds:
                progress.update(bar, description=f"Round {data['round'] + 1}/{rounds}: "
                                f"importance ({method})", completed=0, total=None)

        _, report = api.prune(
            model, method, ratio, data=data, kg=store, policy=policy, rounds=rounds, steps=steps,
            normalize=normalize, lam=lam, view=view_of(coverage, seed, strategy), seed=seed,
            samples=samples, batch_size=batch_size, lr=lr, distill=distill,
            compensate=compensate, target=target,
            gqa_mode=gqa_mode, min_heads=min_heads, neuron_multiple=neuron_multiple,
            protect=protect or (), scores=scores, out=out_dir, on_event=on_event)
    if not is_main_process():
        return
    if as_json:
        print_json(report.to_dict())
        return
    if report.resumed_from:
        out.print(f"Resumed after round {report.resumed_from}", highlight=False)
    out.print(_round_table(report))


def importance_cmd(
    out_path: Annotated[Path, typer.Option("--out", help="Scores are written to OUT.safetensors "
                                           "and OUT.json (`kgprune prune --scores OUT` reuses "
                                           "them).")],
    model: ModelOpt = BUILTIN,
    method: MethodOpt = "knowledge",
    lam: LambdaOpt = 0.5,
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
    init_from_env()
    with status(f"Scoring units ({method}, {samples} samples)"):
        scores = api.score(model, method, data=data, kg=store, lam=lam,
                           view=view_of(coverage, seed, strategy), seed=seed, samples=samples,
                           batch_size=batch_size)
    if not is_main_process():
        return
    tensors, manifest = scores.save(out_path)
    summary = {key: {"units": int(v.numel()), "mean": float(v.mean()), "min": float(v.min()),
                     "max": float(v.max())} for key, v in scores.scores.items()}
    if as_json:
        print_json({"out": str(out_path), "files": [str(tensors), str(manifest)],
                    "criterion": scores.criterion, "samples": scores.samples, "groups": summary})
        return
    table = Table(title=f"{scores.criterion} importance over {scores.samples} samples",
                  caption=f"saved to {tensors} and {manifest.name}")
    for column in ("group", "units", "mean", "min", "max"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for key, row in summary.items():
        table.add_row(key, str(row["units"]), f"{row['mean']:.3g}", f"{row['min']:.3g}",
                      f"{row['max']:.3g}")
    out.print(table)
