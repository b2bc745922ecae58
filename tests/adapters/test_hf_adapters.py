"""The three Hugging Face adapters on tiny random models: losses, gradients, predictions."""

from __future__ import annotations

from collections.abc import Callable

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
    losses = adapter.answer_losses(adapter.prepare(images, QUESTIONS), TARGETS)[0]
    assert losses.shape == (2,)
    assert torch.isfinite(losses).all() and (losses > 0).all()
    losses.sum().backward()
    assert _has_grad(adapter.model, VISION[family])
    assert _has_grad(adapter.model, LANGUAGE[family])
    adapter.model.zero_grad(set_to_none=True)


def _module_calls(model: torch.nn.Module, run: Callable[[], object]) -> int:
    calls = [0]

    def count(*_: object) -> None:
        calls[0] += 1

    handles = [m.register_forward_pre_hook(count) for m in model.modules()]
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return calls[0]


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_target_sets_share_one_forward_pass(adapters: dict[str, HfAdapter],
                                            images: list[Image.Image], family: str) -> None:
    """L_task and L_knowledge in one call: the same numbers as two calls, for the price of one."""
    adapter = adapters[family]
    inputs = adapter.prepare(images, QUESTIONS)
    knowledge = [{"hot dog": 1.0}, {"red": 0.5, "hot dog": 0.5}]
    with torch.no_grad():
        torch.manual_seed(0)
        (task_alone,) = adapter.answer_losses(inputs, TARGETS)
        torch.manual_seed(0)
        (knowledge_alone,) = adapter.answer_losses(inputs, knowledge)
        torch.manual_seed(0)
        task, known = adapter.answer_losses(inputs, TARGETS, knowledge)
        one = _module_calls(adapter.model, lambda: adapter.answer_losses(inputs, TARGETS))
        both = _module_calls(adapter.model,
                             lambda: adapter.answer_losses(inputs, TARGETS, knowledge))
    torch.testing.assert_close(task, task_alone, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(known, knowledge_alone, atol=1e-5, rtol=1e-4)
    assert both == one > 0


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_empty_targets_give_zero_and_samples_are_independent(
        adapters: dict[str, HfAdapter], images: list[Image.Image], family: str) -> None:
    adapter = adapters[family]
    inputs = adapter.prepare(images, QUESTIONS)
    with torch.no_grad():
        both = adapter.answer_losses(inputs, TARGETS)[0]
        first_only = adapter.answer_losses(inputs, [TARGETS[0], {}])[0]
        none = adapter.answer_losses(inputs, [{}, {}])[0]
    assert first_only[1] == 0
    assert torch.allclose(first_only[0], both[0], atol=1e-5)
    assert torch.equal(none, torch.zeros(2))


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_loss_is_weighted_by_the_targets(adapters: dict[str, HfAdapter],
                                         images: list[Image.Image], family: str) -> None:
    adapter = adapters[family]
    inputs = adapter.prepare(images, QUESTIONS)
    with torch.no_grad():
        red = adapter.answer_losses(inputs, [{"red": 1.0}, {}])[0][0]
        dog = adapter.answer_losses(inputs, [{"hot dog": 1.0}, {}])[0][0]
        mixed = adapter.answer_losses(inputs, [{"red": 0.25, "hot dog": 0.75}, {}])[0][0]
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
        adapter.answer_losses(adapter.prepare(images, QUESTIONS), [{"red": 1.0}])[0]


def test_vilt_drops_answers_outside_its_vocabulary(adapters: dict[str, HfAdapter],
                                                   images: list[Image.Image]) -> None:
    adapter = adapters["vilt"]
    inputs = adapter.prepare(images, QUESTIONS)
    with torch.no_grad():
        red = adapter.answer_losses(inputs, [{"red": 1.0}, {"zebra": 1.0}])[0]
        renormalised = adapter.answer_losses(inputs, [{"red": 0.4, "zebra": 0.6}, {}])[0]
    assert torch.allclose(red[0], renormalised[0], atol=1e-6)
    assert red[1] == 0
    assert adapter.predict(inputs)[0] in adapter.labels
