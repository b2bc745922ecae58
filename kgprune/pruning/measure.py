"""Before/after numbers for a model: size, FLOPs, memory and the time to answer.

FLOPs come from `torch.utils.flop_counter.FlopCounterMode` on one batch-1 forward, taught two ops it
does not know: the fused CPU attention kernel (so head pruning shows up in attention FLOPs too) and
the int8 dynamic Linear (so a quantised model is not reported as nearly free).

Peak memory on CPU is the RSS growth of one warm batch inference: free heap goes back to the
system first (`malloc_trim`), so memory cached by earlier runs cannot hide the peak; writing "5" to
/proc/self/clear_refs resets the kernel's high-water mark (VmHWM) to the current RSS; after the run
VmHWM minus that RSS is the growth. The median of three runs is reported. This stays in-process on
purpose: a forked child would need one thread (OpenMP pools do not survive fork) and would pay
the kernels' one-time set-up again (~17 MB on the tiny kgvqa), which is not inference memory. On
CUDA it is the growth of `torch.cuda.max_memory_allocated` over one run.
"""

from __future__ import annotations

import ctypes
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from PIL import Image
from torch import nn
from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

from kgprune.errors import ConfigError, Errors, PruningError
from kgprune.pruning.quantize import is_quantized, quantized_bytes, quantized_linears
from kgprune.pruning.units import discover_units
from kgprune.vqa.adapters.base import ModelAdapter

RunBatch = Callable[[int], object]
QUESTION = "What is the color of the object in this picture?"
IMAGE_SIDE = 224
RSS_METHOD = "cpu-rss-high-water-growth"
MEMORY_REPEATS = 3
CUDA_METHOD = "cuda-max-memory-allocated"


@dataclass(frozen=True, slots=True)
class Latency:
    batch_size: int
    median_ms: float
    p90_ms: float
    min_ms: float
    """The least noisy estimate on a shared machine: other load only ever adds time."""
    repeats: int


@dataclass(frozen=True, slots=True)
class Measurement:
    """One model's numbers; `to_dict` is JSON-ready."""

    params: int
    prunable_params: int | None
    """Parameters in prunable units; None when units cannot be found (a quantised model)."""
    flops_per_sample: int
    param_bytes: int
    peak_memory_bytes: int | None
    """Memory growth of one inference at `peak_memory_batch`; None when it could not be measured."""
    peak_memory_batch: int
    peak_memory_method: str
    latency: tuple[Latency, ...]
    num_threads: int
    device: str
    quantized: bool

    def latency_at(self, batch_size: int) -> Latency:
        for entry in self.latency:
            if entry.batch_size == batch_size:
                return entry
        raise KeyError(batch_size)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["latency"] = [asdict(entry) for entry in self.latency]
        return data


def _sdpa_flops(query: Any, key: Any, value: Any, *_args: Any, out_shape: Any = None,
                **_kwargs: Any) -> int:
    return sdpa_flop_count(query, key, value)


def _quantized_linear_flops(x: torch.Tensor, *_args: Any, out_val: torch.Tensor | None = None,
                            **_kwargs: Any) -> int:
    out_features = out_val.shape[-1] if out_val is not None else 0
    return 2 * x.numel() * out_features


_quantized_linear_flops._get_raw = True  # type: ignore[attr-defined]  # FlopCounterMode: pass tensors

_EXTRA_FLOPS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_flops,
                torch.ops.quantized.linear_dynamic: _quantized_linear_flops}


def count_flops(run: Callable[[], object]) -> int:
    """FLOPs of `run()` (a multiply-add counts 2), without autograd."""
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=_EXTRA_FLOPS) as counter:
        run()
    return int(counter.get_total_flops())


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(parameters, bytes), tied parameters once, int8 Linear weights at one byte each."""
    values = sum(p.numel() for p in model.parameters())
    size = sum(p.numel() * p.element_size() for p in model.parameters())
    for _, module in quantized_linears(model):
        extra_values, extra_bytes = quantized_bytes(module)
        values, size = values + extra_values, size + extra_bytes
    return values, size


def prunable_params(model: nn.Module) -> int | None:
    try:
        return discover_units(model).num_params
    except PruningError:
        return None


def _device(model: nn.Module) -> torch.device:
    first = next(model.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_batches(run_batch: RunBatch, device: torch.device, batch_sizes: Sequence[int], *,
                 repeats: int, warmup: int) -> tuple[Latency, ...]:
    """Median, p90 and minimum wall time per batch size, after `warmup` untimed runs."""
    results = []
    for size in batch_sizes:
        for _ in range(warmup):
            run_batch(size)
        times = []
        for _ in range(repeats):
            _sync(device)
            start = time.perf_counter()
            run_batch(size)
            _sync(device)
            times.append((time.perf_counter() - start) * 1000)
        p90 = statistics.quantiles(times, n=10, method="inclusive")[-1] if repeats > 1 else times[0]
        results.append(Latency(size, statistics.median(times), p90, min(times), repeats))
    return tuple(results)


def _rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _high_water_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise OSError("no VmHWM line in /proc/self/status")


def _trim_heap() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: freed heap may hide part of the growth
        pass


def rss_growth(run: Callable[[], object]) -> int | None:
    """RSS high-water growth of `run()` over the RSS before it (see the module docstring);
    None where the kernel offers no peak reset (not Linux, or /proc/self/clear_refs refused)."""
    try:
        _trim_heap()
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        start = _rss_bytes()
        run()
        return max(0, _high_water_bytes() - start)
    except OSError:
        return None


def peak_memory(run: Callable[[], object], device: torch.device) -> tuple[int | None, str]:
    """Memory growth of one warm `run()` on `device`, and how it was measured."""
    run()
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        run()
        _sync(device)
        return torch.cuda.max_memory_allocated(device) - before, CUDA_METHOD
    runs = [rss_growth(run) for _ in range(MEMORY_REPEATS)]
    if any(r is None for r in runs):
        return None, "unavailable (needs Linux /proc/self/clear_refs)"
    return int(statistics.median(runs)), RSS_METHOD


def _check(batch_sizes: Sequence[int], repeats: int, warmup: int, memory_batch: int | None) -> None:
    if not batch_sizes or any(not isinstance(b, int) or b < 1 for b in batch_sizes):
        raise ConfigError(Errors.K546.format(what="batch_sizes", expected="positive integers",
                                             value=list(batch_sizes)))
    if memory_batch is not None and (not isinstance(memory_batch, int) or memory_batch < 1):
        raise ConfigError(Errors.K546.format(what="memory_batch", value=memory_batch,
                                             expected="a positive integer or None"))
    if repeats < 1 or warmup < 0:
        raise ConfigError(Errors.K546.format(what="repeats / warmup", expected=">= 1 / >= 0",
                                             value=f"{repeats} / {warmup}"))


def measure_callable(model: nn.Module, run_batch: RunBatch, *,
                     batch_sizes: Sequence[int] = (1, 8, 32), repeats: int = 10, warmup: int = 2,
                     memory_batch: int | None = 32) -> Measurement:
    """Measure `model` through `run_batch(batch_size)`, which runs it on a synthetic batch.

    `memory_batch=None` skips the peak-memory runs.
    """
    _check(batch_sizes, repeats, warmup, memory_batch)
    device = _device(model)
    params, size = parameter_counts(model)
    with torch.no_grad():
        flops = count_flops(lambda: run_batch(1))
        latency = time_batches(run_batch, device, batch_sizes, repeats=repeats, warmup=warmup)
        if memory_batch is None:
            peak, method = None, "not measured"
        else:
            peak, method = peak_memory(lambda: run_batch(memory_batch), device)
    return Measurement(params=params, prunable_params=prunable_params(model),
                       flops_per_sample=flops, param_bytes=size, peak_memory_bytes=peak,
                       peak_memory_batch=memory_batch or 0, peak_memory_method=method,
                       latency=latency, num_threads=torch.get_num_threads(), device=str(device),
                       quantized=is_quantized(model))


def synthetic_inputs(batch_size: int) -> tuple[list[Image.Image], list[str]]:
    """Blank grey images and one question: fixed inputs, so before and after see the same work."""
    image = Image.new("RGB", (IMAGE_SIDE, IMAGE_SIDE), (128, 128, 128))
    return [image] * batch_size, [QUESTION] * batch_size


def measure_adapter(adapter: ModelAdapter, *, batch_sizes: Sequence[int] = (1, 8, 32),
                    repeats: int = 10, warmup: int = 2,
                    memory_batch: int | None = 32) -> Measurement:
    """Measure the time to answer: `predict(prepare(images, questions))` on synthetic inputs."""
    def run_batch(size: int) -> list[str]:
        images, questions = synthetic_inputs(size)
        return adapter.predict(adapter.prepare(images, questions))

    adapter.model.eval()
    return measure_callable(adapter.model, run_batch, batch_sizes=batch_sizes, repeats=repeats,
                            warmup=warmup, memory_batch=memory_batch)
