"""Tiny random models of every Hugging Face family, built once per module from seeded configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from kgprune.vqa.adapters.hf_loading import FAMILIES, HfAdapter, save_adapter, tiny_adapter

FAMILY_NAMES = sorted(FAMILIES)


@pytest.fixture(scope="module")
def adapters() -> dict[str, HfAdapter]:
    built = {}
    for family in FAMILY_NAMES:
        torch.manual_seed(0)
        built[family] = tiny_adapter(family)
        built[family].model.eval()
    return built


@pytest.fixture(scope="module")
def saved(adapters: dict[str, HfAdapter], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {family: save_adapter(adapter, root / family) for family, adapter in adapters.items()}


@pytest.fixture
def images() -> list[Image.Image]:
    """Two sizes and a greyscale image: the processors resize, pad and convert."""
    return [Image.new("RGB", (40, 30), (200, 30, 30)), Image.new("L", (30, 50), 90)]


QUESTIONS = ["What color is the dog?", "How many cats are there in this picture?"]
TARGETS = [{"red": 0.5, "hot dog": 0.5}, {"2": 1.0}]
