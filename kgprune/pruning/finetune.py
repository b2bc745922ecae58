"""Fine-tuning after a pruning round: L_task + λ·L_knowledge, optionally + logit distillation.

Any `ModelAdapter` works: batches are prepared by the adapter, the loss is `batch_losses`. The batch
order is a function of (seed, round, epoch) and the learning rate of the step, so a round re-run
after a crash repeats exactly. Under `torch.distributed` each rank takes its share of every global
batch and the gradients are averaged with all_reduce before the step, the same arithmetic as DDP,
done by hand so that adapters which call sub-modules directly need no wrapper. Each rank's loss
terms are weighted by its share of the samples that count for them (`mean_weights`), so the step
is the single-process step even when shards hold different numbers of grounded samples.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from kgprune.errors import ConfigError, Errors
from kgprune.pruning.data import PruningData
from kgprune.pruning.distributed import mean_weights
from kgprune.vqa.adapters.base import ModelAdapter, ModelInputs
from kgprune.vqa.knowledge_loss import batch_losses
from kgprune.vqa.training import learning_rate

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class FinetuneConfig:
    steps: int = 50
    batch_size: int = 32
    lr: float = 5e-4
    weight_decay: float = 0.01
    lam: float = 0.5
    """Weight λ of L_knowledge; 0 fine-tunes on the task loss alone."""
    distill: float = 0.0
    """Weight of the KL divergence to the unpruned model's answer distribution."""
    temperature: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 0 or self.batch_size < 1 or self.lr <= 0 or self.lam < 0 \
                or self.distill < 0 or self.temperature <= 0:
            raise ConfigError(Errors.K560.format(config=asdict(self)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FinetuneReport:
    steps: int
    mean_loss: float
    mean_task: float
    mean_knowledge: float
    seconds: float
    median_step_seconds: float
    """Robust to a busy machine where the total is not: one slow step moves it little."""


def _logits(adapter: ModelAdapter, inputs: ModelInputs) -> torch.Tensor:
    logits = getattr(adapter, "logits", None)
    if logits is None:
        raise ConfigError(Errors.K561.format(family=adapter.family))
    return logits(inputs)


def _shard(indices: list[int]) -> list[int]:
    if not (dist.is_available() and dist.is_initialized()):
        return indices
    return indices[dist.get_rank()::dist.get_world_size()]


def _average_gradients(model: torch.nn.Module) -> None:
    if not (dist.is_available() and dist.is_initialized()):
        return
    world = dist.get_world_size()
    for param in model.parameters():
        if not param.requires_grad:
            continue
        if param.grad is None:
            param.grad = torch.zeros_like(param)
        dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
        param.grad /= world


def finetune(adapter: ModelAdapter, data: PruningData, config: FinetuneConfig, *,
             round_index: int = 0, teacher: ModelAdapter | None = None,
             on_progress: ProgressFn | None = None) -> FinetuneReport:
    """`config.steps` AdamW steps with a fresh optimizer (the weights' shapes just changed)."""
    if config.distill and teacher is None:
        raise ConfigError(Errors.K562)
    start = time.perf_counter()
    model = adapter.model
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=config.lr, weight_decay=config.weight_decay)
    per_epoch = max(1, math.ceil(len(data) / config.batch_size))
    totals = {"loss": 0.0, "task": 0.0, "knowledge": 0.0}
    step_seconds: list[float] = []
    model.train()
    for step in range(config.steps):
        step_start = time.perf_counter()
        epoch, position = divmod(step, per_epoch)
        generator = torch.Generator().manual_seed(
            config.seed * 1_000_003 + round_index * 10_007 + epoch)
        order = torch.randperm(len(data), generator=generator).tolist()
        batch = data.batch(adapter, _shard(order[position * config.batch_size:
                                                 (position + 1) * config.batch_size]))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, config.steps, config.lr)
        parts = batch_losses(adapter, batch.inputs, task=batch.task, knowledge=batch.knowledge,
                             lam=config.lam)
        task_w, knowledge_w, batch_w = mean_weights(sum(bool(t) for t in batch.task),
                                                    parts.grounded, len(batch.task))
        loss = parts.total
        scaled = task_w * parts.task + config.lam * knowledge_w * parts.knowledge
        if config.distill:
            assert teacher is not None
            with torch.no_grad():
                target = F.softmax(_logits(teacher, batch.inputs) / config.temperature, dim=-1)
            log_probs = F.log_softmax(_logits(adapter, batch.inputs) / config.temperature, dim=-1)
            kl = F.kl_div(log_probs, target, reduction="batchmean") * config.temperature ** 2
            loss = loss + config.distill * kl
            scaled = scaled + batch_w * config.distill * kl
        optimizer.zero_grad(set_to_none=True)
        scaled.backward()
        _average_gradients(model)
        optimizer.step()
        totals["loss"] += loss.item()
        totals["task"] += parts.task.item()
        totals["knowledge"] += parts.knowledge.item()
        step_seconds.append(time.perf_counter() - step_start)
        if on_progress is not None:
            on_progress(step + 1, config.steps)
    model.eval()
    n = max(1, config.steps)
    return FinetuneReport(steps=config.steps, mean_loss=totals["loss"] / n,
                          mean_task=totals["task"] / n, mean_knowledge=totals["knowledge"] / n,
                          seconds=time.perf_counter() - start,
                          median_step_seconds=statistics.median(step_seconds or [0.0]))
