"""`kgprune train`: train the built-in `kgvqa` model on a synthetic, OK-VQA or FVQA folder,
resumably."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, TextColumn, TimeRemainingColumn

from kgprune.commands.common import (
    RESUME,
    CountColumn,
    JsonOpt,
    LambdaOpt,
    StoreOpt,
    err,
    interruptible,
    live_progress,
    out,
    print_json,
    status,
)
from kgprune.errors import ConfigError, Errors
from kgprune.kg import bundled
from kgprune.kg.store import GraphStore, default_store_url, open_store
from kgprune.linking.encoder import ENCODER_NAMES
from kgprune.vqa.adapters.kgvqa import SIZES
from kgprune.vqa.benchmark_run import (
    DEFAULT_CURRICULUM_EPOCHS,
    DEFAULT_EPOCHS,
    default_benchmark,
    retrieve_contexts,
)
from kgprune.vqa.layouts import open_benchmark
from kgprune.vqa.training import (
    has_checkpoint,
    majority_accuracy,
    new_model,
    train,
    with_perception,
)


def _benchmark(data: Path | None, store: GraphStore, seed: int) -> Path:
    """`--data`, or a default benchmark in the data home, generated on first use."""
    if data is not None:
        return data
    with status("Preparing the built-in benchmark"):
        return default_benchmark(store, seed=seed)


def _check_out(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir()
                             or (any(out_dir.iterdir()) and not has_checkpoint(out_dir))):
        raise ConfigError(Errors.K402.format(path=out_dir))


@interruptible(RESUME)
def train_cmd(
    out_dir: Annotated[Path, typer.Option(
        "--out", help="Checkpoint directory; resumed if it holds one.")],
    data: Annotated[Path | None, typer.Option(
        "--data", help="A `kgprune vqa make-synthetic`, OK-VQA or FVQA folder (default: one "
        "generated in the data home).")] = None,
    size: Annotated[str, typer.Option(help=f"Model size: {', '.join(SIZES)}.")] = "tiny",
    epochs: Annotated[int, typer.Option(help="Training epochs over all questions.")] = DEFAULT_EPOCHS,
    curriculum_epochs: Annotated[int, typer.Option(
        "--curriculum-epochs", min=0, help="Epochs on a synthetic benchmark's perception "
        "questions alone, before all questions.")] = DEFAULT_CURRICULUM_EPOCHS,
    lam: LambdaOpt = 0.5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of weights and data order.")] = 0,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 32,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate.")] = 2e-3,
    encoder: Annotated[str, typer.Option(
        help=f"Entity encoder for retrieval: {', '.join(ENCODER_NAMES)}.")] = "auto",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train kgvqa with L_task + λ·L_knowledge and report validation VQA accuracy."""
    if size not in SIZES:
        raise ConfigError(Errors.K403.format(size=size, known=", ".join(SIZES)))
    _check_out(out_dir)
    url = store or default_store_url()
    with open_store(url) as s:
        if store is None:
            with status("Loading the bundled knowledge graph"):
                bundled.load_if_home(s)
        data_dir = _benchmark(data, s, seed)
        benchmark = open_benchmark(data_dir)
        train_samples = benchmark.split("train")
        val_samples = benchmark.split("val")
        with status(f"Retrieving knowledge for {len(train_samples)} questions"):
            contexts = retrieve_contexts(s, data_dir, train_samples, encoder=encoder)
        samples, contexts, perception = with_perception(data_dir, train_samples, contexts,
                                                        s.version())
    adapter = new_model(size, benchmark.image_size, samples, seed=seed)
    columns = (TextColumn("{task.description}"), BarColumn(),
               CountColumn(), TextColumn("steps"), TimeRemainingColumn())
    with live_progress(*columns) as progress:
        task = progress.add_task(f"Training kgvqa-{size}", total=None)
        report = train(adapter, samples, val_samples=val_samples, contexts=contexts,
                       checkpoint_dir=out_dir, lam=lam, epochs=epochs, batch_size=batch_size,
                       lr=lr, seed=seed, curriculum=perception,
                       curriculum_epochs=curriculum_epochs,
                       on_progress=lambda done, total: progress.update(task, completed=done,
                                                                       total=total))
    baseline = majority_accuracy(train_samples, val_samples) if val_samples else None
    if as_json:
        print_json({"steps": report.steps, "epochs": report.epochs,
                    "resumed_from": report.resumed_from, "train_loss": report.train_loss,
                    "val_accuracy": report.val_accuracy, "majority_accuracy": baseline,
                    "checkpoint_dir": str(out_dir), "data": str(data_dir),
                    "dataset": benchmark.record()})
        return
    if report.resumed_from:
        err.print(f"Resumed from step {report.resumed_from}", highlight=False)
    scores = ("no validation split" if report.val_accuracy is None or baseline is None
              else f"val accuracy {report.val_accuracy:.2f} (majority answer {baseline:.2f})")
    out.print(f"kgvqa-{size}: {report.steps} steps, {report.epochs} epochs, {scores}; "
              f"checkpoint in {out_dir}", highlight=False)
