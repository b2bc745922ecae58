"""`load_hf_adapter`: round trips through save_pretrained folders and coded errors for bad folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image

from kgprune.errors import ConfigError, InputFormatError
from kgprune.vqa.adapters.hf_loading import (
    HfAdapter,
    detect_family,
    load_hf_adapter,
    save_tiny_model,
)
from tests.adapters.conftest import FAMILY_NAMES, QUESTIONS, TARGETS


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_round_trip_gives_identical_losses(adapters: dict[str, HfAdapter], saved: dict[str, Path],
                                           images: list[Image.Image], family: str) -> None:
    original = adapters[family]
    loaded = load_hf_adapter(saved[family])
    assert type(loaded) is type(original)
    inputs = original.prepare(images, QUESTIONS)
    reloaded_inputs = loaded.prepare(images, QUESTIONS)
    assert inputs.keys() == reloaded_inputs.keys()
    assert all(torch.equal(inputs[k], reloaded_inputs[k]) for k in inputs)
    with torch.no_grad():
        assert torch.equal(original.answer_losses(inputs, TARGETS)[0],
                           loaded.answer_losses(reloaded_inputs, TARGETS)[0])
    assert original.predict(inputs) == loaded.predict(reloaded_inputs)


def test_save_tiny_model_writes_a_loadable_folder(tmp_path: Path) -> None:
    folder = save_tiny_model("vilt", tmp_path / "vilt", answers=["yes", "no"])
    assert detect_family(folder) == "vilt"
    assert any(folder.glob("*.safetensors"))
    assert load_hf_adapter(folder).labels == ["yes", "no"]


def test_family_from_architectures_when_model_type_is_absent(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BlipForQuestionAnswering"]}))
    assert detect_family(tmp_path) == "blip"


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"\[K420\].*nowhere"):
        load_hf_adapter(tmp_path / "nowhere")


def test_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match=r"\[K421\]"):
        load_hf_adapter(tmp_path)


def test_unreadable_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(InputFormatError, match=r"\[K422\]"):
        load_hf_adapter(tmp_path)


def test_unsupported_architecture_names_found_and_supported(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert",
                                                      "architectures": ["BertModel"]}))
    with pytest.raises(ConfigError, match=r"\[K423\].*'bert'.*BertModel.*ViltForQuestionAnswering"):
        load_hf_adapter(tmp_path)


def test_other_head_of_a_supported_model_type_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "blip",
                                                      "architectures": ["BlipForConditionalGeneration"]}))
    with pytest.raises(ConfigError, match=r"\[K423\].*BlipForConditionalGeneration"):
        load_hf_adapter(tmp_path)


def test_family_from_model_type_when_architectures_are_absent(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava"}))
    assert detect_family(tmp_path) == "llava"


def test_folder_without_weights(saved: dict[str, Path], tmp_path: Path) -> None:
    shutil.copy(saved["vilt"] / "config.json", tmp_path / "config.json")
    with pytest.raises(InputFormatError, match=r"\[K424\]"):
        load_hf_adapter(tmp_path)


def test_unknown_tiny_family(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[K425\].*blip, llava, vilt"):
        save_tiny_model("gpt2", tmp_path)
