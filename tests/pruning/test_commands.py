"""`kgprune prune / importance / measure / quantize` through Typer's CliRunner, on a trained
model and a small benchmark with knowledge retrieved from the bundled graph."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from kgprune.cli import app, main
from kgprune.errors import ConfigError, PruningError
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.pruning import schedule
from kgprune.pruning.importance import ImportanceScores
from kgprune.pruning.saved import load_pruned, read_manifest
from kgprune.pruning.units import discover_units
from kgprune.vqa.training import load_trained
from tests.training.conftest import Bench

runner = CliRunner()


def _common(bench: Bench, store: LadybugStore, model: Path) -> list[str]:
    return ["--model", str(model), "--data", str(bench.path), "--store", store.url,
            "--samples", "8", "--batch-size", "8"]


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_prune_then_measure_quantize_and_evaluate(bench: Bench, bundled_store: LadybugStore,
                                                   trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "pruned"
    report = _json(["prune", *_common(bench, bundled_store, trained), "--method", "knowledge",
                    "--ratio", "0.4", "--rounds", "2", "--steps", "2", "--coverage", "0.5",
                    "--normalize", "tower", "--out", str(out), "--json"])
    assert report["removed_ratio"] == pytest.approx(0.4, abs=0.05)
    assert [r["round"] for r in report["rounds"]] == [1, 2]
    manifest = read_manifest(out)
    assert manifest["info"]["view"]["level"] == 0.5 and manifest["criterion"] == "knowledge"
    assert manifest["info"]["kg_facts_in_view"] < bundled_store.stats().facts
    assert manifest["info"]["schedule"]["plan"]["normalize"] == "tower"
    assert manifest["info"]["plan"]["settings"]["normalize"] == "tower"
    pruned = load_pruned(out)
    original = discover_units(load_trained(trained).model).num_params
    assert discover_units(pruned.model).num_params < 0.65 * original

    measured = _json(["measure", str(out), "--batch-sizes", "1,2", "--repeats", "1", "--json"])
    before = _json(["measure", str(trained), "--batch-sizes", "1", "--repeats", "1", "--json"])
    assert measured["params"] < before["params"]
    assert measured["flops_per_sample"] < before["flops_per_sample"]
    assert [lat["batch_size"] for lat in measured["latency"]] == [1, 2]

    quantized = tmp_path / "int8"
    _json(["quantize", str(out), "--out", str(quantized), "--json"])
    q = _json(["measure", str(quantized), "--batch-sizes", "1", "--repeats", "1", "--json"])
    assert q["quantized"] and q["param_bytes"] < measured["param_bytes"]

    scores = _json(["vqa", "evaluate", "--model", str(out), "--data", str(bench.path),
                    "--split", "val", "--store", bundled_store.url, "--json"])
    assert 0 <= scores["accuracy"] <= 100


def test_importance_scores_are_saved_with_their_provenance(
        bench: Bench, bundled_store: LadybugStore, trained: Path, tmp_path: Path) -> None:
    report = _json(["importance", *_common(bench, bundled_store, trained), "--method", "task",
                    "--out", str(tmp_path / "scores"), "--json"])
    assert report["criterion"] == "task" and report["samples"] > 0
    scores = ImportanceScores.load(tmp_path / "scores")
    units = discover_units(load_trained(trained).model)
    assert set(scores.scores) == {g.key for g in units}
    assert all(torch.isfinite(v).all() and (v >= 0).all() for v in scores.scores.values())
    assert scores.meta["model"] == str(trained) and scores.meta["data"] == str(bench.path)


def test_a_rerun_is_a_no_op_and_an_input_is_never_overwritten(
        bench: Bench, bundled_store: LadybugStore, trained: Path, tmp_path: Path) -> None:
    args = ["prune", *_common(bench, bundled_store, trained), "--method", "magnitude",
            "--ratio", "0.2", "--rounds", "1", "--steps", "1", "--out", str(tmp_path / "p"),
            "--json"]
    first = _json(args)
    again = _json(args)
    assert again["resumed_from"] == 1 and again["removed_ratio"] == first["removed_ratio"]
    result = runner.invoke(app, [*args[:-3], "--out", str(trained)])
    assert isinstance(result.exception, ConfigError) and "K563" in str(result.exception)


@pytest.mark.parametrize(("extra", "code"), [
    (["--method", "bogus"], "K566"),
    (["--ratio", "1.2"], "K521"),
    (["--ratio", "-0.1"], "K521"),
    (["--normalize", "layer"], "K521"),
])
def test_bad_arguments_fail_before_any_work(bench: Bench, bundled_store: LadybugStore,
                                            trained: Path, tmp_path: Path, extra: list[str],
                                            code: str) -> None:
    result = runner.invoke(app, ["prune", *_common(bench, bundled_store, trained), *extra,
                                 "--out", str(tmp_path / "x")])
    assert isinstance(result.exception, ConfigError | PruningError), result.output
    assert code in str(result.exception)
    assert not (tmp_path / "x").exists()


@pytest.mark.usefixtures("python_sigint")
def test_ctrl_c_during_a_prune_says_how_to_resume(bench: Bench, bundled_store: LadybugStore,
                                                  trained: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A real SIGINT in round 2: one line, exit 130, and the same command resumes after round 1."""
    args = ["prune", *_common(bench, bundled_store, trained), "--ratio", "0.4", "--rounds", "2",
            "--steps", "2", "--out", str(tmp_path / "pruned"), "--json"]
    real = schedule.finetune

    def ctrl_c_in_round_2(*a: Any, round_index: int, **kw: Any) -> Any:
        if round_index == 2:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(10)  # the KeyboardInterrupt is raised here
        return real(*a, round_index=round_index, **kw)

    monkeypatch.setattr(schedule, "finetune", ctrl_c_in_round_2)
    monkeypatch.setattr(sys, "argv", ["kgprune", *args])
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C escaped the CLI as a KeyboardInterrupt")
    assert exited.value.code == 130
    assert capsys.readouterr().err.strip() == "interrupted; resume with the same command"
    monkeypatch.setattr(schedule, "finetune", real)
    assert _json(args)["resumed_from"] == 1
