"""Joining a `torchrun` job: a process group from the environment torchrun sets.

Importance sums and fine-tuning gradients are all-reduced whenever a process group exists, so a
command only has to join one: `torchrun --nproc-per-node 2 -m kgprune prune ...`.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_from_env() -> bool:
    """Join the process group torchrun describes (WORLD_SIZE > 1); True when in one."""
    if not dist.is_available():
        return False
    if dist.is_initialized():
        return True
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True


def is_main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def barrier() -> None:
    """Wait for every rank (a no-op outside a process group)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
