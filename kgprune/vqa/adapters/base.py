"""The `ModelAdapter` protocol: what training, evaluation, the knowledge loss and pruning need.

Both losses are one operation with two target distributions: `answer_losses(inputs, targets)` is
the cross-entropy between the model's answer distribution and `targets` (answer text -> weight,
summing to 1). With the VQA soft scores of the 10 human answers it is L_task; with the answers the
retrieved facts support it is L_knowledge. A classifier scores its answer vocabulary (answers
outside it are dropped and the rest renormalised); a generative model sums the weighted
log-likelihoods of each answer's tokens. Several target sets share one forward pass, so adding
L_knowledge to a training step costs a loss, not a second pass through the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from PIL import Image

AnswerTargets = Mapping[str, float]
ModelInputs = dict[str, Any]


@runtime_checkable
class ModelAdapter(Protocol):
    """A VQA model behind the operations kgprune needs; `model` is what the pruning engine edits."""

    family: str
    model: torch.nn.Module

    def prepare(self, images: Sequence[Image.Image], questions: Sequence[str]) -> ModelInputs:
        """Tensors for a batch, on the model's device."""

    def answer_losses(self, inputs: ModelInputs,
                      *targets: Sequence[AnswerTargets]) -> tuple[torch.Tensor, ...]:
        """Per target set, the per-sample cross-entropy, shape [batch]; 0 where a target is
        empty. One forward pass serves every set."""

    def predict(self, inputs: ModelInputs) -> list[str]:
        """The answer text per sample (the arg-max answer, or greedy generation)."""


def predict_with_losses(adapter: ModelAdapter, inputs: ModelInputs,
                        targets: Sequence[AnswerTargets]) -> tuple[list[str], torch.Tensor]:
    """The answers and their cross-entropy against `targets`: from one forward pass where the
    adapter offers `predict_with_losses` (a classifier's arg-max and loss read the same logits;
    scoring a test split then costs one pass, not two), else `predict` and `answer_losses`."""
    joint = getattr(adapter, "predict_with_losses", None)
    if joint is not None:
        return joint(inputs, targets)
    (losses,) = adapter.answer_losses(inputs, targets)
    return adapter.predict(inputs), losses
