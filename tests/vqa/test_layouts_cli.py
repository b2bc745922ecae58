"""OK-VQA and FVQA folders through the CLI: `train`, `prune`, `importance`, `relations`,
`vqa evaluate` and `experiment sweep --quick`, each on a tiny model, with the dataset's layout,
splits and image-object source in every run record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgprune.cli import app
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.pruning.saved import read_manifest
from kgprune.vqa.adapters.kgvqa import UNK
from kgprune.vqa.layouts import open_benchmark
from kgprune.vqa.metrics import normalize_answer
from kgprune.vqa.training import read_state
from tests.vqa.layout_data import write_fvqa, write_okvqa

runner = CliRunner()
EXPECTED = {
    "okvqa": {"layout": "okvqa", "version": "1.1", "objects": "detections",
              "splits": "train = train2014; val = test = val2014"},
    "fvqa": {"layout": "fvqa", "objects": "visual genome",
             "splits": "Name_Lists fold 0 (val = test)"},
}


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data home per module: the built-in model trains once per dataset, not per test."""
    return tmp_path_factory.mktemp("kgprune-home")


@pytest.fixture
def home(shared_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KGPRUNE_HOME", str(shared_home))
    return shared_home


@pytest.fixture(scope="module", params=["okvqa", "fvqa"])
def folder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp(request.param) / request.param
    return write_okvqa(root) if request.param == "okvqa" else write_fvqa(root, objects="vg")


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _check_record(record: dict, folder: Path) -> None:
    assert record == {**EXPECTED[folder.name], "path": str(folder),
                      "objects_file": record["objects_file"],
                      **({"annotations": "mscoco_val2014_annotations.json"}
                         if folder.name == "okvqa" else {})}


def test_train_prune_importance_relations_evaluate(folder: Path, bundled_store: LadybugStore,
                                                   tmp_path: Path) -> None:
    store = ["--store", bundled_store.url]
    checkpoint = tmp_path / "kgvqa"
    trained = _json(["train", "--data", str(folder), "--out", str(checkpoint), "--epochs", "2",
                     "--batch-size", "4", *store, "--json"])
    _check_record(trained["dataset"], folder)
    assert trained["val_accuracy"] is not None
    # the answer vocabulary is the training split's answers, nothing from val/test
    train_answers = {normalize_answer(a) for s in open_benchmark(folder).split("train")
                     for a in s.answers}
    assert set(read_state(checkpoint)["answers"]) == train_answers | {UNK}

    common = ["--model", str(checkpoint), "--data", str(folder), *store, "--samples", "8",
              "--batch-size", "4"]
    pruned = tmp_path / "pruned"
    report = _json(["prune", *common, "--ratio", "0.3", "--rounds", "1", "--steps", "2",
                    "--out", str(pruned), "--json"])
    assert report["removed_ratio"] == pytest.approx(0.3, abs=0.05)
    info = read_manifest(pruned)["info"]
    _check_record(info["dataset"], folder)
    assert info["train_samples"] == len(open_benchmark(folder).split("train"))

    scores = _json(["importance", *common, "--method", "task", "--out",
                    str(tmp_path / "scores"), "--json"])
    assert scores["samples"] == min(8, info["train_samples"]) and scores["groups"]

    relations = _json(["relations", "--model", str(checkpoint), "--data", str(folder), *store,
                       "--out", str(tmp_path / "relations.json"), "--per-relation", "4",
                       "--json"])
    assert "UsedFor" in relations["relations"]

    evaluated = _json(["vqa", "evaluate", "--model", str(pruned), "--data", str(folder),
                       "--split", "test", *store, "--json"])
    assert evaluated["n"] == len(open_benchmark(folder).split("test"))
    assert 0 <= evaluated["accuracy"] <= 100
    _check_record(evaluated["dataset"], folder)


def test_prune_the_builtin_model_then_sweep(folder: Path, home: Path, tmp_path: Path) -> None:
    """The issue's path: `kgprune prune --data FOLDER` (the built-in model, trained on the
    folder's training answers on first use) and `kgprune experiment sweep --quick`."""
    out = tmp_path / "pruned"
    report = _json(["prune", "--data", str(folder), "--ratio", "0.3", "--rounds", "1",
                    "--steps", "2", "--samples", "8", "--batch-size", "4", "--out", str(out),
                    "--json"])
    assert report["inputs"]["model"].startswith(str(home / "models" / "kgvqa-tiny-"))
    _check_record(read_manifest(out)["info"]["dataset"], folder)

    result = runner.invoke(app, ["experiment", "sweep", "--quick", "--set", f"data={folder}",
                                 "--set", "seeds=0", "--set", "methods=full,knowledge",
                                 "--set", "ratios=0.3", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    [run] = (tmp_path / "runs").iterdir()
    context = json.loads((run / "inputs.json").read_text(encoding="utf-8"))["context"]
    _check_record(context["dataset"], folder)
    assert context["model"] == report["inputs"]["model"]  # the same cached built-in model
    assert context["eval_samples"] == len(open_benchmark(folder).split("test"))
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    assert results["finished_cells"] == results["total_cells"] == 2
    for cell in results["cells"]:
        assert 0 <= cell["metrics"]["accuracy"] <= 100
