"""`kgprune train` through Typer's CliRunner, on a very small benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgprune.cli import app
from kgprune.errors import ConfigError
from kgprune.vqa.synthetic import PRETRAIN
from kgprune.vqa.training import STATE_FILE, load_synthetic_split
from tests.training.conftest import SMALL, Bench

runner = CliRunner()


@pytest.fixture(autouse=True)
def _small_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's tiny model is slow for a unit test; the command's path is the same."""
    monkeypatch.setattr("kgprune.vqa.training.default_config", lambda size, image_size: SMALL)


def _args(bench: Bench, out: Path, *extra: str) -> list[str]:
    return ["train", "--data", str(bench.path), "--out", str(out), "--epochs", "1",
            "--curriculum-epochs", "1", "--batch-size", "16", "--encoder", "hashing",
            "--seed", "0", *extra]


def test_trains_reports_and_resumes(small_bench: Bench, tmp_path: Path) -> None:
    out = tmp_path / "model"
    result = runner.invoke(app, _args(small_bench, out, "--json"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    perception = len(load_synthetic_split(small_bench.path, PRETRAIN))
    assert perception > 0
    assert report["epochs"] == 1 + 1 and report["steps"] == (
        -(-perception // 16) + -(-(len(small_bench.train) + perception) // 16))
    assert report["resumed_from"] == 0 and 0 <= report["val_accuracy"] <= 100
    assert (out / STATE_FILE).is_file()
    again = runner.invoke(app, _args(small_bench, out))
    assert again.exit_code == 0, again.output
    assert "val accuracy" in again.stdout and "majority answer" in again.stdout
    finished = runner.invoke(app, _args(small_bench, out, "--json"))
    assert finished.exit_code == 0, finished.output
    report = json.loads(finished.stdout, parse_constant=_not_json)
    assert report["resumed_from"] == report["steps"] and report["train_loss"] is None


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not JSON: a finished run's loss must print as null")


def test_refuses_a_foreign_out_dir(small_bench: Bench, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(app, _args(small_bench, tmp_path))
    assert isinstance(result.exception, ConfigError) and "K402" in str(result.exception)


def test_unknown_size(small_bench: Bench, tmp_path: Path) -> None:
    result = runner.invoke(app, _args(small_bench, tmp_path / "m", "--size", "huge"))
    assert isinstance(result.exception, ConfigError) and "K403" in str(result.exception)
