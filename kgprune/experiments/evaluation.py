"""A model's quality on an evaluation split: VQA accuracy and test cross-entropy in one pass.

Cross-entropy is reported beside accuracy because it moves before accuracy does: two pruned models
with the same accuracy can be far apart in how sure they are of the right answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from kgprune.vqa.adapters.base import ModelAdapter, predict_with_losses
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.knowledge_loss import task_targets
from kgprune.vqa.metrics import vqa_accuracy

EVAL_BATCH = 64


@dataclass(frozen=True, slots=True)
class Quality:
    predictions: tuple[str, ...]
    accuracy: float
    """VQA accuracy in percent."""
    cross_entropy: float
    """Mean per-sample cross-entropy of the answer distribution against the human answers' soft
    scores, over the samples that have answers (nats)."""


def evaluate(adapter: ModelAdapter, images: Sequence[Image.Image],
             samples: Sequence[VqaSample], *, batch_size: int = EVAL_BATCH) -> Quality:
    predictions: list[str] = []
    loss_sum, counted = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(samples), batch_size):
            chunk = samples[start:start + batch_size]
            inputs = adapter.prepare(list(images[start:start + batch_size]),
                                     [s.question for s in chunk])
            targets = [task_targets(s.answers) for s in chunk]
            answers, losses = predict_with_losses(adapter, inputs, targets)
            present = torch.tensor([bool(t) for t in targets], device=losses.device)
            loss_sum += float(losses[present].double().sum())
            counted += int(present.sum())
            predictions += answers
    accuracy = 100 * sum(vqa_accuracy(p, s.answers)
                         for p, s in zip(predictions, samples, strict=True)) / len(samples)
    return Quality(tuple(predictions), accuracy, loss_sum / counted if counted else 0.0)
