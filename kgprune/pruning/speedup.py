"""Speedup of one model over another, timed side by side.

A ratio of two latencies measured minutes apart mostly measures what else the machine was doing.
Here both models answer the same prepared batch in alternation (A, B, A, B, ...), so slow
periods hit both, and the ratio is the median of the per-pair ratios. Inputs are prepared once
outside the timed region: the speedup is the model's, not the tokenizer's.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from kgprune.pruning.measure import synthetic_inputs
from kgprune.vqa.adapters.base import ModelAdapter


@dataclass(frozen=True, slots=True)
class PairedLatency:
    batch_size: int
    base_ms: float
    """Median latency of the reference model."""
    other_ms: float
    speedup: float
    """Median over pairs of base / other."""
    pairs: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def _timed(adapter: ModelAdapter, inputs: dict) -> float:
    start = time.perf_counter()
    adapter.predict(inputs)
    if next(adapter.model.parameters(), torch.empty(0)).is_cuda:
        torch.cuda.synchronize()
    return (time.perf_counter() - start) * 1000


def paired_latency(base: ModelAdapter, other: ModelAdapter, *,
                   batch_sizes: Sequence[int] = (1, 32), pairs: int = 10,
                   warmup: int = 2) -> dict[int, PairedLatency]:
    """Per batch size, the two models' median latencies and the median speedup of `other`."""
    results: dict[int, PairedLatency] = {}
    base.model.eval()
    other.model.eval()
    with torch.inference_mode():
        for size in batch_sizes:
            images, questions = synthetic_inputs(size)
            base_inputs = base.prepare(images, questions)
            other_inputs = other.prepare(images, questions)
            for _ in range(warmup):
                _timed(base, base_inputs)
                _timed(other, other_inputs)
            base_times, other_times = [], []
            for i in range(pairs):
                first_base = i % 2 == 0
                if first_base:
                    base_times.append(_timed(base, base_inputs))
                other_times.append(_timed(other, other_inputs))
                if not first_base:
                    base_times.append(_timed(base, base_inputs))
            ratios = [b / o for b, o in zip(base_times, other_times, strict=True)]
            results[size] = PairedLatency(size, statistics.median(base_times),
                                          statistics.median(other_times),
                                          statistics.median(ratios), pairs)
    return results
