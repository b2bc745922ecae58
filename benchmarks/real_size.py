"""Benchmark: the whole pruning path on the released architectures at their real size.

For ViLT-B/32 (VQA), BLIP-base (VQA) and LLaVA-1.5 (`kgprune.vqa.adapters.hf_real`, random
weights): build, discover units, measure the unpruned model (parameters, FLOPs, latency of a
forward pass over question + answer at batch 1 and 8), knowledge importance on N samples
(gate gradients only, weights frozen), a plan removing 30% of the prunable parameters, a masked
forward + greedy generation, surgery, the same sliced (they must agree), save, free, load (must
agree again), measure the pruned model, and time base and pruned round-robin for the latency
ratio (a fresh base from the same seed; `--paired 0` keeps one model alive). Every step records its time and peak memory (CPU:
the process's RSS high-water mark during the step, reset before it; CUDA: max allocated), so the
memory a step needs is read off directly. Outside the paired timing one model is alive at a time.

    python benchmarks/real_size.py --config vilt-b32-vqa --out results/real_size_vilt.json
    python benchmarks/real_size.py --config llava-1.5-7b --decoder-layers 2 --repeats 1 ...
    python benchmarks/real_size.py --config llava-1.5-7b --device cuda --dtype bfloat16 \\
        --samples 512 --batch-size 8 --out results/real_size_llava7b_gpu.json

`--config-file F.json` ({"name": ..., "overrides": {...}}) runs a shape of one's own through the
same code (the tests run a small LLaVA with the real options this way).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from kgprune.atomic import write_atomic
from kgprune.pruning.data import PruningData
from kgprune.pruning.distributed import check_fits, memory_budget
from kgprune.pruning.gates import Gates
from kgprune.pruning.importance import criterion_by_name
from kgprune.pruning.measure import count_flops, parameter_counts, synthetic_inputs, time_batches
from kgprune.pruning.planner import PlanConfig, build_plan
from kgprune.pruning.saved import load_pruned, save_pruned
from kgprune.pruning.surgery import apply_plan
from kgprune.pruning.units import discover_units
from kgprune.vqa.adapters.base import ModelAdapter
from kgprune.vqa.adapters.hf_real import COMMON_ANSWERS, REAL, build_real

err = Console(stderr=True)
QUESTIONS = ("what is the man holding?", "what color is the bus?", "how many dogs are there?",
             "what sport is this?", "what is on the plate?", "is it raining?")
CHECK_SAMPLES = 2


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _rss_peak() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:"))


class Steps:
    """Times each step and records its peak memory (see the module docstring)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.records: dict[str, dict[str, Any]] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
        before = _rss()
        start = time.perf_counter()
        result = fn()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        seconds = time.perf_counter() - start
        record: dict[str, Any] = {"seconds": round(seconds, 3), "rss_before_bytes": before,
                                  "peak_rss_bytes": _rss_peak()}
        if self.device.type == "cuda":
            record["peak_cuda_bytes"] = torch.cuda.max_memory_allocated(self.device)
        self.records[name] = record
        peak = record.get("peak_cuda_bytes", record["peak_rss_bytes"])
        err.print(f"{name}: {seconds:.1f} s, peak {peak / 2**30:.2f} GiB", highlight=False)
        return result


@contextmanager
def creating(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """New modules are made on `device` in `dtype`: a 7B model never exists in fp32 on the CPU."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with device:
            yield
    finally:
        torch.set_default_dtype(previous)


def samples(count: int, seed: int) -> PruningData:
    """VQA-like samples: 640x480 noise images, questions, one task and one knowledge answer."""
    rng = np.random.default_rng(seed)
    images = tuple(Image.fromarray(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
                   for _ in range(count))
    answers = [COMMON_ANSWERS[i % len(COMMON_ANSWERS)] for i in range(count + 1)]
    return PruningData(images=images,
                       questions=tuple(QUESTIONS[i % len(QUESTIONS)] for i in range(count)),
                       task=tuple({answers[i]: 1.0} for i in range(count)),
                       knowledge=tuple({answers[i + 1]: 1.0} for i in range(count)))


def outputs(adapter: ModelAdapter, data: PruningData) -> tuple[torch.Tensor, list[str]]:
    """Per-sample task losses (logits of the answers) and greedy predictions on the check batch."""
    batch = data.batch(adapter, range(CHECK_SAMPLES))
    with torch.no_grad():
        (losses,) = adapter.answer_losses(batch.inputs, batch.task)
        return losses.float().cpu(), adapter.predict(batch.inputs)


def answer_batch(adapter: ModelAdapter, size: int) -> torch.Tensor:
    """One forward pass over `size` questions and a one-word answer (prepare included): fixed
    work, where greedy generation from random weights stops after an arbitrary number of tokens."""
    images, questions = synthetic_inputs(size)
    with torch.no_grad():
        return adapter.answer_losses(adapter.prepare(images, questions), [{"yes": 1.0}] * size)[0]


def measure(adapter: ModelAdapter, steps: Steps, prefix: str, batch_sizes: Sequence[int],
            repeats: int, warmup: int) -> dict[str, Any]:
    """Parameters, FLOPs per sample and latency per batch size of `answer_batch`; each latency is
    a step of its own, so its peak memory is the memory of that batch size."""
    def run_batch(size: int) -> torch.Tensor:
        return answer_batch(adapter, size)

    adapter.model.eval()
    params, size = parameter_counts(adapter.model)
    device = next(adapter.model.parameters()).device
    result: dict[str, Any] = {"params": params, "param_bytes": size,
                              "prunable_params": discover_units(adapter.model).num_params}
    result["flops_per_sample"] = steps.run(f"{prefix}_flops", lambda: count_flops(
        lambda: run_batch(1)))
    for batch in batch_sizes:
        with torch.no_grad():
            (latency,) = steps.run(f"{prefix}_latency_b{batch}", lambda b=batch: time_batches(
                run_batch, device, [b], repeats=repeats, warmup=warmup))
        result[f"latency_b{batch}_min_ms"] = round(latency.min_ms, 1)
        result[f"latency_b{batch}_median_ms"] = round(latency.median_ms, 1)
    return result


def paired_latency(models: dict[str, ModelAdapter], batch_sizes: Sequence[int],
                   rounds: int) -> dict[str, float]:
    """Fastest `answer_batch` per model and batch size, timed round-robin (base, pruned, base...)
    so that load from others on a shared machine falls on both alike."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        for batch in batch_sizes:
            for label, adapter in models.items():
                start = time.perf_counter()
                answer_batch(adapter, batch)
                elapsed = (time.perf_counter() - start) * 1000
                key = f"{label}_b{batch}_min_ms"
                best[key] = round(min(best.get(key, elapsed), elapsed), 1)
    return best


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(),
                    TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                    console=err, transient=True)


@dataclass(frozen=True, slots=True)
class Settings:
    name: str
    overrides: dict[str, Any]
    device: torch.device
    dtype: torch.dtype
    samples: int
    batch_size: int
    ratio: float
    batch_sizes: tuple[int, ...]
    repeats: int
    warmup: int
    paired: int

    def build(self, steps: Steps, step: str) -> ModelAdapter:
        """The architecture from seed 0 (the same random weights every time), in eval mode."""
        torch.manual_seed(0)
        with creating(self.device, self.dtype):
            adapter = steps.run(step, lambda: build_real(self.name, self.overrides))
        adapter.model.eval()
        return adapter


def prune_and_save(settings: Settings, steps: Steps, data: PruningData,
                   out_dir: Path) -> dict[str, Any]:
    """Build, measure, score, plan, compare masked with sliced, slice and save: the first model's
    life, which ends with this function."""
    adapter = settings.build(steps, "build")
    check_fits(adapter.model, memory_budget(settings.device, loaded=adapter.model),
               trainable=False)
    units = steps.run("discover_units", lambda: discover_units(adapter.model))
    base = measure(adapter, steps, "base", settings.batch_sizes, settings.repeats,
                   settings.warmup)
    batches = data.scoring_batches(adapter, samples=settings.samples,
                                   batch_size=settings.batch_size, seed=0)
    with _bar() as progress:
        bar = progress.add_task(f"knowledge importance, {settings.samples} samples",
                                total=len(batches))
        scores = steps.run("importance", lambda: criterion_by_name("knowledge").score(
            adapter, units, batches,
            on_progress=lambda done, _total: progress.update(bar, completed=done)))
    plan = steps.run("plan", lambda: build_plan(units, scores, PlanConfig(ratio=settings.ratio)))

    def masked() -> tuple[torch.Tensor, list[str]]:
        with Gates(adapter.model, units) as gates:
            gates.set_mask(plan.kept())
            return outputs(adapter, data)

    masked_losses, masked_answers = steps.run("masked_outputs", masked)
    steps.run("surgery", lambda: apply_plan(adapter.model, plan, units=units))
    sliced_losses, sliced_answers = steps.run("sliced_outputs", lambda: outputs(adapter, data))
    steps.run("save", lambda: save_pruned(adapter, plan, out_dir, info={"benchmark": "real_size"}))
    return {"units": {"groups": len(units), "heads": sum(g.num_heads for g in units.heads),
                      "neurons": sum(g.size for g in units.neurons),
                      "unreachable": [g.key for g in units.unreachable]},
            "plan": {"target_ratio": settings.ratio, "removed_ratio": round(plan.removed_ratio, 4),
                     "removed_params": plan.removed_params},
            "base": base, "masked": (masked_losses, masked_answers),
            "sliced": (sliced_losses, sliced_answers)}


def run(settings: Settings, work: Path) -> dict[str, Any]:
    steps = Steps(settings.device)
    data = samples(max(settings.samples, CHECK_SAMPLES), seed=0)
    out_dir = work / f"{settings.name}-pruned"
    first = prune_and_save(settings, steps, data, out_dir)
    gc.collect()

    def load() -> ModelAdapter:
        with creating(settings.device, settings.dtype):
            return load_pruned(out_dir)

    loaded = steps.run("load", load)
    loaded.model.to(settings.device)
    loaded_losses, loaded_answers = steps.run("loaded_outputs", lambda: outputs(loaded, data))
    pruned = measure(loaded, steps, "pruned", settings.batch_sizes, settings.repeats,
                     settings.warmup)
    latency: dict[str, Any] = {}
    if settings.paired:
        timed = steps.run("paired_latency", lambda: paired_latency(
            {"base": settings.build(steps, "rebuild_base"), "pruned": loaded},
            settings.batch_sizes, settings.paired))
        latency = {"rounds": settings.paired, **timed, **{
            f"ratio_b{b}": round(timed[f"pruned_b{b}_min_ms"] / timed[f"base_b{b}_min_ms"], 4)
            for b in settings.batch_sizes}}
    (masked_losses, masked_answers), (sliced_losses, sliced_answers) = (first["masked"],
                                                                          first["sliced"])
    base = first["base"]
    return {
        "config": settings.name, "overrides": settings.overrides, "device": str(settings.device),
        "dtype": str(settings.dtype), "samples": settings.samples,
        "batch_size": settings.batch_size, "units": first["units"], "plan": first["plan"],
        "equality": {
            "masked_vs_sliced_max_abs_loss_diff": float((masked_losses - sliced_losses).abs().max()),
            "masked_vs_sliced_same_answers": masked_answers == sliced_answers,
            "sliced_vs_loaded_max_abs_loss_diff": float((sliced_losses - loaded_losses).abs().max()),
            "sliced_vs_loaded_same_answers": sliced_answers == loaded_answers,
            "answers": sliced_answers},
        "base": base, "pruned": pruned,
        "saved_bytes": sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file()),
        "ratios": {"params": round(pruned["params"] / base["params"], 4),
                   "flops": round(pruned["flops_per_sample"] / base["flops_per_sample"], 4),
                   **{f"latency_b{b}": round(pruned[f"latency_b{b}_min_ms"]
                                             / base[f"latency_b{b}_min_ms"], 4)
                      for b in settings.batch_sizes}},
        "paired_latency": latency, "steps": steps.records}


def _overrides(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    if args.config_file:
        spec = json.loads(Path(args.config_file).read_text(encoding="utf-8"))
        return str(spec["name"]), dict(spec.get("overrides", {}))
    overrides: dict[str, Any] = {}
    if args.decoder_layers is not None:
        from kgprune.vqa.adapters.hf_real import LLAVA_15_7B

        overrides["text_config"] = {**LLAVA_15_7B["text_config"],
                                    "num_hidden_layers": args.decoder_layers}
    return args.config, overrides


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(REAL), default="vilt-b32-vqa")
    parser.add_argument("--config-file", help="JSON {name, overrides} instead of --config")
    parser.add_argument("--decoder-layers", type=int, help="LLaVA: Llama layers (real width)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--ratio", type=float, default=0.3)
    parser.add_argument("--batch-sizes", default="1,8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--paired", type=int, default=3,
                        help="Round-robin rounds timing base and pruned side by side (0: off; "
                        "holds two models at once)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    name, overrides = _overrides(args)
    uptime_before = _load_average()
    with tempfile.TemporaryDirectory(prefix="kgprune-real-size-") as work:
        settings = Settings(
            name=name, overrides=overrides, device=torch.device(args.device),
            dtype=getattr(torch, args.dtype), samples=args.samples, batch_size=args.batch_size,
            ratio=args.ratio, batch_sizes=tuple(int(b) for b in args.batch_sizes.split(",")),
            repeats=args.repeats, warmup=args.warmup, paired=args.paired)
        result = run(settings, Path(work))
    result["machine"] = {"platform": platform.platform(), "cpus": os.cpu_count(),
                         "threads": torch.get_num_threads(), "torch": torch.__version__,
                         "load_avg_before": uptime_before, "load_avg_after": _load_average()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_atomic(Path(args.out), json.dumps(result, indent=1) + "\n")
    err.print(json.dumps({k: result[k] for k in ("plan", "equality", "ratios", "paired_latency")}),
              highlight=False)


if __name__ == "__main__":
    main()
