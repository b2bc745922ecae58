"""Every command's `--json` output, run for real: strict JSON (no NaN / Infinity, which
`json.loads` would otherwise accept), paths as strings, and a store and a view in every KG read.
Commands without --json (demo, serve, link build-index, experiment) print tables and logs."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from kgprune.cli import COMMANDS, app
from kgprune.experiments.config import load_spec
from kgprune.experiments.runner import run_study
from tests.experiments.conftest import FormulaRunner

FIXTURES = Path(__file__).parent / "fixtures"
runner = CliRunner()
WITHOUT_JSON = {"demo", "serve", "experiment"}


def _refuse(constant: str) -> Any:
    raise ValueError(f"non-standard JSON constant {constant}")


def strict(args: list[str]) -> Any:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, (args, result.output, result.exception)
    data = json.loads(result.stdout, parse_constant=_refuse)
    for text in _strings(data):
        assert not text.startswith(("(PosixPath", "PosixPath(", "{'")), (args, text)
    return data


def _strings(data: Any) -> list[str]:
    if isinstance(data, dict):
        return [s for v in data.values() for s in _strings(v)]
    if isinstance(data, list):
        return [s for v in data for s in _strings(v)]
    return [data] if isinstance(data, str) else []


def _kg_read(data: dict[str, Any], url: str) -> None:
    assert data["store"] == url and set(data["view"]) == {"level", "seed", "strategy", "source"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("json-home")


def test_every_command_with_json_prints_strict_json(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KGPRUNE_HOME", str(home))
    seen: set[str] = set()

    def run(name: str, *args: str) -> Any:
        seen.add(name.split()[0])
        return strict([*name.split(), *args])

    url = f"ladybug://{tmp_path / 'fixture.lbdb'}"
    assert run("kg load conceptnet", str(FIXTURES / "conceptnet-assertions.csv"),
               "--store", url)["facts_added"] > 0
    assert run("kg load visual-genome", str(FIXTURES / "visual_genome"), "--store", url)
    _kg_read(run("kg stats", "--store", url), url)
    _kg_read(run("kg neighbors", "cup", "--hops", "2", "--store", url), url)
    _kg_read(run("kg sample", "--coverage", "0.5", "--store", url), url)
    exported = run("kg export-neo4j-admin", str(tmp_path / "admin"))
    assert exported["rows"] and exported["out"] == str(tmp_path / "admin")
    assert isinstance(run("link query", "what is a cup used for", "--store", url), list)

    bench = tmp_path / "bench"
    assert run("vqa make-synthetic", str(bench), "--n", "12", "--image-size", "32")
    checkpoint, pruned = tmp_path / "model", tmp_path / "pruned"
    trained = run("train", "--out", str(checkpoint), "--data", str(bench), "--epochs", "1",
                  "--batch-size", "8")
    assert trained["checkpoint_dir"] == str(checkpoint)
    common = ["--model", str(checkpoint), "--data", str(bench), "--samples", "8",
              "--batch-size", "8"]
    scores = run("importance", *common, "--method", "task", "--out", str(tmp_path / "scores"))
    assert scores["out"] == str(tmp_path / "scores") and len(scores["files"]) == 2
    report = run("prune", *common, "--scores", str(tmp_path / "scores"), "--ratio", "0.3",
                 "--rounds", "1", "--steps", "1", "--out", str(pruned))
    assert report["method"] == "task" and report["out"] == str(pruned)
    assert run("measure", str(pruned), "--batch-sizes", "1", "--repeats", "1")["params"] > 0
    assert run("quantize", str(pruned), "--out", str(tmp_path / "int8"))
    evaluated = run("vqa evaluate", "--model", str(pruned), "--data", str(bench), "--split", "val")
    assert set(evaluated) >= {"accuracy", "hallucination", "majority_accuracy", "store"}
    predictions = tmp_path / "predictions.json"
    predictions.write_text(json.dumps([{"question_id": 10001, "answer": "two"}]))
    okvqa = FIXTURES / "okvqa"
    scored = run("vqa eval", "--questions", str(okvqa / "OpenEnded_mscoco_val2014_questions.json"),
                 "--annotations", str(okvqa / "mscoco_val2014_annotations.json"),
                 "--predictions", str(predictions))
    assert set(scored) >= {"accuracy", "n", "missing"}
    relations = run("relations", "--model", str(checkpoint), "--data", str(bench), "--out",
                    str(tmp_path / "relations.json"), "--per-relation", "4", "--top", "3",
                    "--pruned", str(pruned))
    assert relations["store"] and relations["out"] == str(tmp_path / "relations.json")

    run_dir = tmp_path / "run"
    run_study(load_spec("ablate-loss", sets=["seeds=0"]), FormulaRunner(), run_dir,
              Console(file=StringIO()))
    assert run("report", str(run_dir))
    assert seen == set(COMMANDS) - WITHOUT_JSON, "every command with --json ran here"
