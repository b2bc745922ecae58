"""The three Hugging Face adapters on tiny random models: losses, gradients, predictions."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from kgprune.errors import ConfigError
from kgprune.vqa.adapters.base import ModelAdapter
from kgprune.vqa.adapters.hf_loading import HfAdapter
from tests.adapters.conftest import FAMILY_NAMES, QUESTIONS, TARGETS

# Parameter-name prefixes of the image encoder and of the text side of each family.
VISION = {"vilt": "vilt.embeddings.patch_embeddings.", "blip": "vision_model.",
          "llava": "model.vision_tower."}
LANGUAGE = {"vilt": "vilt.embeddings.text_embeddings.", "blip": "text_decoder.",
            "llava": "model.language_model."}


def _has_grad(model: torch.nn.Module, prefix: str) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0
               for name, p in model.named_parameters() if name.startswith(prefix))


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_is_a_model_adapter(adapters: dict[str, HfAdapter], family: str) -> None:
    assert isinstance(adapters[family], ModelAdapter)
    assert adapters[family].family == family


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_gradients_reach_vision_and_language(adapters: dict[str, HfAdapter],
                                             images: list[Image.Image], family: str) -> None:
    adapter = adapters[family]
    adapter.model.zero_grad(set_to_none=True)
    losses = adapter.answer_loss(adapter.prepare(images, QUESTIONS), TARGETS)
    assert losses.shape == (2,)
    assert torch.isfinite(losses).all() and (losses > 0).all()
    losses.sum().backward()
    assert _has_grad(adapter.model, VISION[family])
    assert _has_grad(adapter.model, LANGUAGE[family])
    adapter.model.zero_grad(set_to_none=True)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_empty_targets_give_zero_and_samples_are_independent(
        adapters: dict[str, HfAdapter], images: list[Image.Image], family: str) -> None:
    adapter = adapters[family]
    inputs = adapter.prepare(images, QUESTIONS)
    with torch.no_grad():
        both = adapter.answer_loss(inputs, TARGETS)
        first_only = adapter.answer_loss(inputs, [TARGETS[0], {}])
        none = adapter.answer_loss(inputs, [{}, {}])
    assert first_only[1] == 0
    assert torch.allclose(first_only[0], both[0], atol=1e-5)
    assert torch.equal(none, torch.zeros(2))


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_loss_is_weighted_by_the_targets(adapters: dict[str, HfAdapter],
                                         images: list[Image.Image], family: str) -> None:
    adapter = adapters[family]
    inputs = adapter.prepare(images, QUESTIONS)
    with torch.no_grad():
        red = adapter.answer_loss(inputs, [{"red": 1.0}, {}])[0]
        dog = adapter.answer_loss(inputs, [{"hot dog": 1.0}, {}])[0]
        mixed = adapter.answer_loss(inputs, [{"red": 0.25, "hot dog": 0.75}, {}])[0]
    assert torch.allclose(mixed, 0.25 * red + 0.75 * dog, atol=1e-5)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_predictions_are_strings(adapters: dict[str, HfAdapter],
                                 images: list[Image.Image], family: str) -> None:
    adapter = adapters[family]
    predictions = adapter.predict(adapter.prepare(images, QUESTIONS))
    assert len(predictions) == 2 and all(isinstance(p, str) for p in predictions)


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_one_target_per_sample(adapters: dict[str, HfAdapter],
                               images: list[Image.Image], family: str) -> None:
    adapter = adapters[family]
    with pytest.raises(ConfigError, match=r"\[K426\]"):
        adapter.answer_loss(adapter.prepare(images, QUESTIONS), [{"red": 1.0}])


def test_vilt_drops_answers_outside_its_vocabulary(adapters: dict[str, HfAdapter],
                                                   images: list[Image.Image]) -> None:
    adapter = adapters["vilt"]
    inputs = adapter.prepare(images, QUESTIONS)
    with torch.no_grad():
        red = adapter.answer_loss(inputs, [{"red": 1.0}, {"zebra": 1.0}])
        renormalised = adapter.answer_loss(inputs, [{"red": 0.4, "zebra": 0.6}, {}])
    assert torch.allclose(red[0], renormalised[0], atol=1e-6)
    assert red[1] == 0
    assert adapter.predict(inputs)[0] in adapter.labels
