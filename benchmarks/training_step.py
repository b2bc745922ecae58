"""Benchmark: what one training step costs, and what the knowledge loss adds to it.

The built-in model (kgvqa tiny) on batches of the built-in benchmark, with their real task and
knowledge targets (bundled KG, retrieval as the demo runs it). Four ways to take one AdamW step:

- `task`: L_task alone (λ = 0).
- `task+knowledge`: L_task + λ·L_knowledge from one forward pass, questions padded to the batch's
  longest: what training and fine-tuning do.
- `two passes`: the same loss with one forward pass per loss term.
- `two passes, pad 24`: two passes and every question padded to `max_question_tokens`: how
  steps were taken before the losses shared a pass.

The variants are timed round-robin, step by step, so a busy machine slows them alike; the report
has the median per variant and the ratios. The paper reports +12% per step for the knowledge loss.

    python benchmarks/training_step.py --out results/training_step.json [--steps 30] [--images 600]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from kgprune.atomic import write_atomic
from kgprune.kg import bundled
from kgprune.kg.store import default_store_url, open_store
from kgprune.vqa.adapters.base import AnswerTargets
from kgprune.vqa.adapters.kgvqa import KgVqaAdapter
from kgprune.vqa.benchmark_run import DEFAULT_IMAGE_SIZE, default_benchmark, retrieve_contexts
from kgprune.vqa.knowledge_loss import batch_losses, knowledge_targets, task_targets
from kgprune.vqa.training import (
    batch_rows,
    encode_samples,
    load_synthetic_split,
    new_model,
    sample_id,
)

LAM = 0.5
Batch = tuple[dict[str, torch.Tensor], list[AnswerTargets], list[AnswerTargets]]
Loss = Callable[[KgVqaAdapter, Batch], torch.Tensor]


def _one_pass(adapter: KgVqaAdapter, batch: Batch, lam: float) -> torch.Tensor:
    inputs, task, knowledge = batch
    return batch_losses(adapter, inputs, task=task, knowledge=knowledge, lam=lam).total


def _two_passes(adapter: KgVqaAdapter, batch: Batch) -> torch.Tensor:
    inputs, task, knowledge = batch
    (l_task,) = adapter.answer_losses(inputs, task)
    (l_knowledge,) = adapter.answer_losses(inputs, knowledge)
    grounded = torch.tensor([bool(k) for k in knowledge], dtype=l_task.dtype)
    return l_task.mean() + LAM * (l_knowledge * grounded).sum() / grounded.sum().clamp(min=1)


def _padded(batch: Batch, width: int) -> Batch:
    inputs, task, knowledge = batch
    return ({k: F.pad(v, (0, width - v.shape[1])) if k != "pixel_values" else v
             for k, v in inputs.items()}, task, knowledge)


VARIANTS: Mapping[str, tuple[Loss, bool]] = {
    "task": (lambda a, b: _one_pass(a, b, 0.0), False),
    "task+knowledge": (lambda a, b: _one_pass(a, b, LAM), False),
    "two passes": (_two_passes, False),
    "two passes, pad 24": (_two_passes, True),
}


def batches(images: int, batch_size: int) -> tuple[KgVqaAdapter, list[Batch], dict[str, Any]]:
    """The demo's benchmark and retrieval, cut into training batches for a fresh model."""
    with open_store(default_store_url()) as store:
        bundled.load_bundled(store)
        data_dir = default_benchmark(store, seed=0, n=images)
        samples = load_synthetic_split(data_dir, "train")
        contexts = retrieve_contexts(store, data_dir, samples)
    adapter = new_model("tiny", DEFAULT_IMAGE_SIZE, samples)
    config = adapter.config
    inputs = encode_samples(adapter, samples)
    task = [task_targets(s.answers) for s in samples]
    knowledge = [knowledge_targets(contexts[sample_id(s)]) for s in samples]
    out: list[Batch] = []
    for start in range(0, len(samples) - batch_size + 1, batch_size):
        rows = slice(start, start + batch_size)
        out.append((batch_rows(inputs, rows), task[rows], knowledge[rows]))
    facts = {"train_samples": len(samples), "grounded": sum(bool(k) for k in knowledge),
             "max_question_tokens": config.max_question_tokens,
             "mean_batch_tokens": statistics.mean(b[0]["input_ids"].shape[1] for b in out)}
    return adapter, out, facts


def time_steps(adapter: KgVqaAdapter, data: Sequence[Batch], *, steps: int,
               warmup: int) -> dict[str, list[float]]:
    """Each step, every variant takes one AdamW step on the same batch, in turn."""
    width = adapter.config.max_question_tokens
    optimizer = torch.optim.AdamW(adapter.model.parameters(), lr=1e-4)
    adapter.model.train()
    seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for step in range(warmup + steps):
        batch = data[step % len(data)]
        for name, (loss_fn, pad) in VARIANTS.items():
            start = time.perf_counter()
            loss = loss_fn(adapter, _padded(batch, width) if pad else batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if step >= warmup:
                seconds[name].append(time.perf_counter() - start)
    return seconds


def run(*, images: int, batch_size: int, steps: int, warmup: int, threads: int) -> dict[str, Any]:
    torch.set_num_threads(threads)
    adapter, data, facts = batches(images, batch_size)
    seconds = time_steps(adapter, data, steps=steps, warmup=warmup)
    median_ms = {name: 1000 * statistics.median(s) for name, s in seconds.items()}
    ratios = {
        "knowledge_loss_overhead": median_ms["task+knowledge"] / median_ms["task"],
        "two_passes_vs_one": median_ms["two passes"] / median_ms["task+knowledge"],
        "previous_vs_now": median_ms["two passes, pad 24"] / median_ms["task+knowledge"],
    }
    return {"benchmark": "training_step", "model": "kgvqa-tiny", "batch_size": batch_size,
            "steps": steps, "threads": threads, "torch": torch.__version__,
            "machine": platform.platform(), "cpus": os.cpu_count(), **facts,
            "median_ms": median_ms, "p90_ms": {
                name: 1000 * statistics.quantiles(s, n=10)[-1] for name, s in seconds.items()},
            "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/training_step.json"))
    parser.add_argument("--images", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    report = run(images=args.images, batch_size=args.batch_size, steps=args.steps,
                 warmup=args.warmup, threads=args.threads)
    write_atomic(args.out, json.dumps(report, indent=1) + "\n")
    print(json.dumps({"median_ms": report["median_ms"], "ratios": report["ratios"]}, indent=1))


if __name__ == "__main__":
    main()
