"""The `ModelAdapter` protocol: what training, evaluation, the knowledge loss and pruning need.

Both losses are one operation with two target distributions: `answer_loss(inputs, targets)` is
the cross-entropy between the model's answer distribution and `targets` (answer text -> weight,
summing to 1). With the VQA soft scores of the 10 human answers it is L_task; with the answers the
retrieved facts support it is L_knowledge. A classifier scores its answer vocabulary (answers
outside it are dropped and the rest renormalised); a generative model sums the weighted
log-likelihoods of each answer's tokens.
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

    def answer_loss(self, inputs: ModelInputs, targets: Sequence[AnswerTargets]) -> torch.Tensor:
        """Per-sample cross-entropy to `targets`, shape [batch]; 0 where a target is empty."""

    def predict(self, inputs: ModelInputs) -> list[str]:
        """The answer text per sample (the arg-max answer, or greedy generation)."""
