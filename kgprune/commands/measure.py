"""`kgprune measure` and `kgprune quantize`: a model's size and speed; int8 weights."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kgprune.commands.common import JsonOpt, out, print_json, status
from kgprune.errors import ConfigError, Errors
from kgprune.pruning.measure import measure_adapter
from kgprune.pruning.plan import PruningPlan, keep_all
from kgprune.pruning.quantize import quantize_int8
from kgprune.pruning.saved import is_pruned_dir, read_manifest, save_pruned
from kgprune.pruning.units import discover_units
from kgprune.vqa.benchmark_run import load_model

ModelDirArg = Annotated[Path, typer.Argument(
    help="A pruned model, a `kgprune train` checkpoint or a Hugging Face model folder.")]
MiB = 1024 * 1024


def measure_cmd(
    model_dir: ModelDirArg,
    batch_sizes: Annotated[str, typer.Option(help="Comma-separated batch sizes.")] = "1,8,32",
    repeats: Annotated[int, typer.Option(min=1, help="Timed runs per batch size.")] = 10,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    as_json: JsonOpt = False,
) -> None:
    """Parameters, FLOPs per sample, memory, and latency at each batch size (median of repeats)."""
    try:
        sizes = tuple(int(b) for b in batch_sizes.split(","))
    except ValueError:
        raise ConfigError(Errors.K567.format(value=batch_sizes)) from None
    adapter = load_model(model_dir)
    adapter.model.to(device)
    with status(f"Measuring {model_dir}"):
        result = measure_adapter(adapter, batch_sizes=sizes, repeats=repeats)
    if as_json:
        print_json({"model": str(model_dir), **result.to_dict()})
        return
    table = Table(title=f"{model_dir} ({adapter.family}, {result.device}, "
                  f"{result.num_threads} threads)", show_header=False)
    table.add_row("parameters", f"{result.params:,}")
    if result.prunable_params is not None:
        table.add_row("prunable parameters", f"{result.prunable_params:,}")
    table.add_row("FLOPs per sample", f"{result.flops_per_sample:,}")
    table.add_row("parameter memory", f"{result.param_bytes / MiB:.1f} MiB")
    if result.peak_memory_bytes is not None:
        table.add_row(f"peak memory, batch {result.peak_memory_batch}",
                      f"{result.peak_memory_bytes / MiB:.1f} MiB ({result.peak_memory_method})")
    for latency in result.latency:
        table.add_row(f"latency, batch {latency.batch_size}",
                      f"{latency.median_ms:.2f} ms median over {latency.repeats}")
    out.print(table)


def quantize_cmd(
    model_dir: ModelDirArg,
    out_dir: Annotated[Path, typer.Option("--out", help="New directory for the int8 model.")],
    as_json: JsonOpt = False,
) -> None:
    """Dynamic int8 quantisation of every Linear layer (CPU), saved like a pruned model."""
    adapter = load_model(model_dir)
    if is_pruned_dir(model_dir):
        plan = PruningPlan.from_dict(read_manifest(model_dir)["plan"], source=str(model_dir))
    else:
        plan = keep_all(discover_units(adapter.model))
    adapter.model = quantize_int8(adapter.model)
    saved = save_pruned(adapter, plan, out_dir, info={"quantized_from": str(model_dir)})
    if as_json:
        print_json({"out": str(saved), "source": str(model_dir)})
        return
    out.print(f"int8 model written to {saved}", highlight=False)
