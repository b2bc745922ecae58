"""Checkpoints: safetensors round trip, resume equivalence, and clear errors on damage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from kgprune.errors import ConfigError, InputFormatError
from kgprune.vqa.adapters.kgvqa import KgVqaAdapter
from kgprune.vqa.training import (
    MODEL_FILE,
    OPTIMIZER_FILE,
    STATE_FILE,
    TrainReport,
    encode_samples,
    load_trained,
    train,
)
from tests.training.conftest import Bench

RUN = {"epochs": 2, "batch_size": 8, "lr": 3e-3, "lam": 0.5, "seed": 0}


Trained = tuple[KgVqaAdapter, TrainReport]


def _train(bench: Bench, out: Path, **kwargs: Any) -> Trained:
    adapter = bench.adapter()
    report = train(adapter, bench.train, val_samples=bench.val, contexts=bench.contexts,
                   checkpoint_dir=out, checkpoint_every=2, **{**RUN, **kwargs})
    return adapter, report


@pytest.fixture(scope="module")
def trained(small_bench: Bench, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return _train(small_bench, tmp_path_factory.mktemp("run") / "ckpt")


def test_round_trip_gives_identical_predictions(small_bench: Bench, trained: Trained) -> None:
    adapter, report = trained
    assert report.steps == report.epochs * -(-len(small_bench.train) // 8) and report.epochs == 2
    assert report.val_accuracy is not None
    state = json.loads((report.checkpoint_dir / STATE_FILE).read_text())
    assert state["step"] == report.steps and state["answers"] == list(adapter.answers)
    assert not list(report.checkpoint_dir.glob(".*.tmp"))
    loaded = load_trained(report.checkpoint_dir)
    inputs = encode_samples(adapter, small_bench.val)
    with torch.no_grad():
        assert torch.equal(adapter.logits(inputs), loaded.logits(inputs))
    assert adapter.predict(inputs) == loaded.predict(inputs)


def test_resume_matches_an_uninterrupted_run(small_bench: Bench, trained: Trained,
                                               tmp_path: Path) -> None:
    full, full_report = trained
    _, first = _train(small_bench, tmp_path / "ckpt", max_steps=3)
    assert (first.steps, first.resumed_from) == (3, 0)
    resumed, second = _train(small_bench, tmp_path / "ckpt")
    assert second.resumed_from == 3 and second.steps == full_report.steps
    expected = full.model.state_dict()
    for name, tensor in resumed.model.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    _, third = _train(small_bench, tmp_path / "ckpt")
    assert third.resumed_from == third.steps == full_report.steps


def test_resume_refuses_another_run(small_bench: Bench, trained: Trained) -> None:
    with pytest.raises(ConfigError, match=r"K405.*lr"):
        _train(small_bench, trained[1].checkpoint_dir, lr=1e-2)


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete", "state"])
def test_damaged_checkpoint_is_a_clear_error(trained: Trained, tmp_path: Path,
                                             damage: str) -> None:
    source = trained[1].checkpoint_dir
    copy = tmp_path / "ckpt"
    copy.mkdir()
    for name in (MODEL_FILE, OPTIMIZER_FILE, STATE_FILE):
        (copy / name).write_bytes((source / name).read_bytes())
    model = copy / MODEL_FILE
    if damage == "flip":
        data = bytearray(model.read_bytes())
        data[-10] ^= 0xFF
        model.write_bytes(bytes(data))
    elif damage == "truncate":
        model.write_bytes(model.read_bytes()[:100])
    elif damage == "delete":
        model.unlink()
    else:
        (copy / STATE_FILE).write_text("{not json")
    code = {"delete": "K400"}.get(damage, "K401")
    with pytest.raises(InputFormatError, match=code):
        load_trained(copy)


def test_missing_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(InputFormatError, match="K400"):
        load_trained(tmp_path)


def test_a_curriculum_trains_its_samples_first_and_resumes_across_the_phase_change(
        small_bench: Bench, tmp_path: Path) -> None:
    first = small_bench.train[: len(small_bench.train) // 2]
    curriculum = {"curriculum": first, "curriculum_epochs": 1}
    full, report = _train(small_bench, tmp_path / "full", **curriculum)
    per_phase = (-(-len(first) // 8), -(-len(small_bench.train) // 8))
    assert report.steps == per_phase[0] + 2 * per_phase[1] and report.epochs == 3
    _, plain = _train(small_bench, tmp_path / "plain")
    assert plain.steps == 2 * per_phase[1]
    _, cut = _train(small_bench, tmp_path / "cut", max_steps=per_phase[0] + 1, **curriculum)
    assert cut.epochs == 1
    resumed, again = _train(small_bench, tmp_path / "cut", **curriculum)
    assert again.resumed_from == per_phase[0] + 1 and again.steps == report.steps
    expected = full.model.state_dict()
    for name, tensor in resumed.model.state_dict().items():
        assert torch.equal(tensor, expected[name]), name
    with pytest.raises(ConfigError, match=r"K405.*curriculum"):
        _train(small_bench, tmp_path / "full")


def test_a_curriculum_must_come_from_the_training_samples(small_bench: Bench,
                                                          tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"K410.*2 curriculum samples"):
        _train(small_bench, tmp_path / "ckpt", curriculum=small_bench.val[:2], curriculum_epochs=1)
