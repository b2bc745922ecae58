"""Joining a `torchrun` job, and sharing what only rank 0 may compute.

Importance sums and fine-tuning gradients are all-reduced whenever a process group exists, so a
command only has to join one: `torchrun --nproc-per-node 2 -m kgprune prune ...`.

Each rank holds a whole model replica and a share of the samples: scoring and fine-tuning are data
parallel, never model parallel. A model that does not fit one device does not fit this scheme
(`check_fits` refuses it with K571 before any work is done).

The embedded graph store admits one writer per folder, so only rank 0 opens it (and trains the
built-in model when needed); the other ranks receive the retrieved samples as JSON bytes broadcast
in a tensor (`share_from_main`): no pickle crosses the process group.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from PIL import Image

from kgprune.errors import Errors, InputFormatError, PruningError
from kgprune.pruning.data import PruningData

T = TypeVar("T")
BACKEND = "cpu:gloo,cuda:nccl"
"""Collectives go by tensor device: a model on the CPU works on a GPU machine too."""


def init_from_env() -> bool:
    """Join the process group torchrun describes (WORLD_SIZE > 1); True when in one."""
    if not dist.is_available():
        return False
    if dist.is_initialized():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    dist.init_process_group(BACKEND if torch.cuda.is_available() else "gloo")
    return True


def in_group() -> bool:
    return dist.is_available() and dist.is_initialized()


def is_main_process() -> bool:
    return not in_group() or dist.get_rank() == 0


def barrier() -> None:
    """Wait for every rank (a no-op outside a process group)."""
    if in_group():
        dist.barrier()


def broadcast_json(value: Any = None) -> Any:
    """Rank 0's JSON-able `value` on every rank: UTF-8 bytes in a CPU uint8 tensor, length first."""
    if not in_group():
        return value
    if dist.get_rank() == 0:
        blob = json.dumps(value, allow_nan=False).encode("utf-8")
        dist.broadcast(torch.tensor([len(blob)], dtype=torch.int64), src=0)
        dist.broadcast(torch.frombuffer(bytearray(blob), dtype=torch.uint8), src=0)
        return value
    size = torch.zeros(1, dtype=torch.int64)
    dist.broadcast(size, src=0)
    data = torch.empty(int(size.item()), dtype=torch.uint8)
    dist.broadcast(data, src=0)
    return json.loads(data.numpy().tobytes().decode("utf-8"))


def share_from_main(make: Callable[[], T], encode: Callable[[T], Any],
                    decode: Callable[[Any], T]) -> T:
    """`make()` on rank 0 alone; every other rank gets `decode(encode(result))`.

    When `make` fails on rank 0 the others raise K570 with its message instead of hanging in the
    broadcast; rank 0 raises its own error.
    """
    if not in_group():
        return make()
    if dist.get_rank() == 0:
        try:
            value = make()
        except Exception as e:
            broadcast_json({"error": str(e) or type(e).__name__})
            raise
        broadcast_json({"value": encode(value)})
        return value
    message = broadcast_json()
    if "error" in message:
        raise PruningError(Errors.K570.format(problem=message["error"]))
    return decode(message["value"])


def data_payload(data: PruningData, image_paths: Sequence[str]) -> dict[str, Any]:
    """`data` as JSON: image paths (every rank reads the same files), questions and targets."""
    return {"images": [str(p) for p in image_paths], "questions": list(data.questions),
            "task": [dict(t) for t in data.task], "knowledge": [dict(k) for k in data.knowledge]}


def data_from_payload(payload: dict[str, Any]) -> PruningData:
    """The `PruningData` rank 0 described with `data_payload`."""
    return PruningData(images=tuple(_open(p) for p in payload["images"]),
                       questions=tuple(payload["questions"]), task=tuple(payload["task"]),
                       knowledge=tuple(payload["knowledge"]))


def mean_weights(*local_counts: float) -> tuple[float, ...]:
    """Per loss term, the factor n_r * W / N that makes the average over ranks of each rank's
    gradient of its own mean the gradient of the mean over all ranks' samples (1 outside a group;
    0 where no rank has a sample for the term). Ranks' shards differ in how many samples count for
    a term (knowledge-grounded ones, a short last batch), so plain averaging would weight a sample
    of a thin shard more."""
    if not in_group():
        return tuple(1.0 for _ in local_counts)
    counts = torch.tensor(local_counts, dtype=torch.float64)
    totals = counts.clone()
    dist.all_reduce(totals, op=dist.ReduceOp.SUM)
    world = dist.get_world_size()
    return tuple(float(n * world / total) if total else 0.0
                 for n, total in zip(counts.tolist(), totals.tolist()))


def _open(path: str) -> Image.Image:
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except OSError as e:
        raise InputFormatError(Errors.K572.format(path=path, problem=e)) from e


def weight_bytes(model: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def memory_budget(device: torch.device | str = "cpu", *,
                  loaded: torch.nn.Module | None = None) -> int:
    """Bytes one rank may use: a CUDA device's memory, or the CPU memory available now shared by
    the ranks of this machine (torchrun's LOCAL_WORLD_SIZE), plus what the already `loaded`
    replica holds."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    with open("/proc/meminfo", encoding="ascii") as f:
        available = next(int(line.split()[1]) * 1024 for line in f
                         if line.startswith("MemAvailable:"))
    share = available // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return share + (weight_bytes(loaded) if loaded is not None else 0)


def check_fits(model: torch.nn.Module, limit_bytes: int | None, *, trainable: bool) -> None:
    """K571 unless one replica of `model` fits `limit_bytes` of one device.

    A replica needs its weights; fine-tuning (`trainable`) adds a gradient and two Adam moments
    per weight, all in the weights' dtype. Activations come on top and are not counted.
    """
    if limit_bytes is None:
        return
    needed = weight_bytes(model) * (4 if trainable else 1)
    if needed > limit_bytes:
        raise PruningError(Errors.K571.format(
            needed=needed / 2**30, limit=limit_bytes / 2**30,
            what="weights, gradients and Adam moments" if trainable else "weights"))
