"""`kgprune vqa evaluate --model PATH`: any adapter scored on a built-in benchmark split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from kgprune.cli import app
from kgprune.kg import bundled
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.vqa.adapters.hf_loading import save_tiny_model
from kgprune.vqa.synthetic import generate_benchmark
from kgprune.vqa.training import load_synthetic_split

runner = CliRunner()


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("evaluate")
    store = LadybugStore(root / "kg.lbdb")
    store.ensure_schema()
    bundled.load_bundled(store)
    generate_benchmark(root / "bench", store=store, n=24, seed=3, image_size=32)
    store.close()
    return root / "bench", f"ladybug://{root / 'kg.lbdb'}"


def test_an_hf_model_folder_is_scored_with_accuracy_and_hallucination(
    benchmark: tuple[Path, str], tmp_path: Path
) -> None:
    data, url = benchmark
    answers = sorted({a for s in load_synthetic_split(data, "train") for a in s.answers})
    torch.manual_seed(0)
    model = save_tiny_model("vilt", tmp_path / "vilt", answers=answers)
    result = runner.invoke(app, ["vqa", "evaluate", "--model", str(model), "--data", str(data),
                                 "--store", url, "--encoder", "hashing", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["family"] == "vilt" and report["split"] == "test"
    assert report["n"] == len(load_synthetic_split(data, "test"))
    assert 0.0 <= report["accuracy"] <= 100.0 and 0.0 <= report["hallucination"] <= 100.0
    assert 0.0 <= report["majority_accuracy"] <= 100.0


def test_a_folder_without_a_model_is_refused(benchmark: tuple[Path, str], tmp_path: Path) -> None:
    data, url = benchmark
    result = runner.invoke(app, ["vqa", "evaluate", "--model", str(tmp_path), "--data", str(data),
                                 "--store", url])
    assert result.exit_code != 0
    assert "K421" in str(result.exception)
