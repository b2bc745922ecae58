"""`kgprune vqa evaluate`: score any model (a kgprune checkpoint or an HF folder) on a benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kgprune.commands.common import JsonOpt, StoreOpt, out, print_json, status
from kgprune.kg import bundled
from kgprune.kg.store import open_store
from kgprune.linking.encoder import ENCODER_NAMES
from kgprune.vqa.benchmark_run import load_model, retrieve_contexts, score_split
from kgprune.vqa.layouts import open_benchmark


def evaluate_model_cmd(
    model: Annotated[Path, typer.Option(
        "--model", help="A `kgprune train` checkpoint or a local ViLT/BLIP/LLaVA model folder.")],
    data: Annotated[Path, typer.Option(
        "--data", help="A `kgprune vqa make-synthetic`, OK-VQA or FVQA folder.")],
    split: Annotated[str, typer.Option(help="Split to score: train, val or test.")] = "test",
    encoder: Annotated[str, typer.Option(
        help=f"Entity encoder for retrieval: {', '.join(ENCODER_NAMES)}.")] = "auto",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """VQA accuracy, the majority-answer bar and the hallucination rate (against the full KG)."""
    adapter = load_model(model)
    benchmark = open_benchmark(data)
    train_samples = benchmark.split("train")
    samples = benchmark.split(split)
    with open_store(store) as s:
        if store is None:
            with status("Loading the bundled knowledge graph"):
                bundled.load_if_home(s)
        with status(f"Retrieving knowledge for {len(samples)} questions"):
            contexts = retrieve_contexts(s, data, samples, encoder=encoder)
        with status(f"Scoring {adapter.family} on {len(samples)} questions"):
            scores = score_split(adapter, s, samples, contexts, train_samples)
        url = s.url
    if as_json:
        print_json({"model": str(model), "family": adapter.family, "split": split,
                    "dataset": benchmark.record(), "n": scores.n, "accuracy": scores.accuracy,
                    "majority_accuracy": scores.majority_accuracy,
                    "hallucination": scores.hallucination_rate, "store": url})
        return
    table = Table(title=f"{adapter.family} ({model}) on {data.name}, {split} split")
    for column in ("questions", "VQA accuracy", "majority answer", "hallucination rate"):
        table.add_column(column, justify="right")
    table.add_row(str(scores.n), f"{scores.accuracy:.2f}", f"{scores.majority_accuracy:.2f}",
                  f"{scores.hallucination_rate:.1f}%")
    out.print(table)
