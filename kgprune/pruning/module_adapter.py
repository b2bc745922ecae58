"""Any `nn.Module` as a `ModelAdapter`, so the pruning engine takes models kgprune has no adapter for.

Data-free criteria (`magnitude`, `random`) need nothing but the module. Gradient and activation
criteria need a loss: `loss(model, batch)` returns a scalar tensor for one of the caller's batches
(one batch counts as one sample), or a mapping with "task" and/or "knowledge" scalars when the
criterion tells the two apart (`combined`). A lone tensor serves as whichever loss is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from PIL import Image
from torch import nn

from kgprune.errors import ConfigError, Errors
from kgprune.pruning.importance import ScoringBatch
from kgprune.vqa.adapters.base import AnswerTargets, ModelInputs

LossFn = Callable[[nn.Module, Any], "torch.Tensor | Mapping[str, torch.Tensor]"]
MODULE = "module"
HUGGINGFACE = "huggingface"
_BATCH = "batch"


def module_family(model: nn.Module) -> str:
    """"huggingface" for a `transformers` model with a config, else "module"."""
    config = getattr(model, "config", None)
    return HUGGINGFACE if callable(getattr(config, "to_dict", None)) and \
        type(model).__module__.startswith("transformers.") else MODULE


class ModuleAdapter:
    """A bare module with an optional loss callable; it has no processor and cannot answer."""

    def __init__(self, model: nn.Module, loss: LossFn | None = None) -> None:
        self.model = model
        self.loss = loss
        self.family = module_family(model)

    def prepare(self, images: Sequence[Image.Image], questions: Sequence[str]) -> ModelInputs:
        raise ConfigError(Errors.K590.format(what="prepare images and questions"))

    def predict(self, inputs: ModelInputs) -> list[str]:
        raise ConfigError(Errors.K590.format(what="answer questions"))

    def answer_losses(self, inputs: ModelInputs,
                      *targets: Sequence[AnswerTargets]) -> tuple[torch.Tensor, ...]:
        """The loss callable's value on the batch, once per target set, as a [1] tensor; the
        target's single key ("task" or "knowledge") picks an entry of a mapping result."""
        if self.loss is None:
            raise ConfigError(Errors.K590.format(what="compute a loss without loss=..."))
        value = self.loss(self.model, inputs[_BATCH])
        results = []
        for target in targets:
            name = next(iter(target[0]), "task") if target and target[0] else "task"
            loss = value
            if isinstance(value, Mapping):
                if name not in value:
                    raise ConfigError(Errors.K591.format(name=name, keys=sorted(value)))
                loss = value[name]
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ConfigError(Errors.K591.format(name=name, keys=type(loss).__name__))
            present = 1.0 if target and target[0] else 0.0
            results.append(loss.reshape(1) * present)
        return tuple(results)


class LossData:
    """The caller's batches for a `ModuleAdapter`, in the shape the pruning schedule reads data:
    each batch is one scoring sample asking for both losses. Nothing to fine-tune on."""

    def __init__(self, batches: Iterable[Any]) -> None:
        self.batches = list(batches)

    def __len__(self) -> int:
        return len(self.batches)

    @property
    def grounded(self) -> int:
        return len(self.batches)

    def scoring_batches(self, adapter: object, *, samples: int, batch_size: int,
                        seed: int) -> list[ScoringBatch]:
        """The first `samples` batches in the caller's order (they are already batches)."""
        return [ScoringBatch(inputs={_BATCH: b}, task=[{"task": 1.0}],
                             knowledge=[{"knowledge": 1.0}]) for b in self.batches[:samples]]
