"""`kgprune vqa eval` through Typer's CliRunner."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kgprune.cli import app
from kgprune.errors import InputFormatError
from kgprune.kg import bundled
from kgprune.kg.store import open_store
from tests.vqa.conftest import ANNOTATIONS, QUESTIONS, write

runner = CliRunner()

# Per question, by hand: 10001 eight "2" matches 8 -> 1.0; 10002 "dog" matches "a dog" x2 + "dog"
# -> 0.9; 10003 "dont enter" -> "don't enter" x4 -> 1.0; 10004 "3.5" x2 -> 0.6; 10005 "1000"
# matches "1,000" + "1000" x2 -> 0.9; 10006 "tshirt" x2 -> 0.6; 10007 all "yes": "yes." -> 0;
# 10008 has no prediction -> 0.
PREDICTIONS = [
    {"question_id": 10001, "answer": "two"}, {"question_id": 10002, "answer": "dog"},
    {"question_id": 10003, "answer": "Dont enter"}, {"question_id": 10004, "answer": "3.5"},
    {"question_id": 10005, "answer": "1000"}, {"question_id": 10006, "answer": "tshirt"},
    {"question_id": 10007, "answer": "yes."},
]


def _args(okvqa_dir: Path, predictions: Path) -> list[str]:
    return ["vqa", "eval", "--questions", str(okvqa_dir / QUESTIONS),
            "--annotations", str(okvqa_dir / ANNOTATIONS), "--predictions", str(predictions)]


def test_json_report(okvqa_dir: Path, tmp_path: Path) -> None:
    preds = write(tmp_path / "results.json", PREDICTIONS)
    result = runner.invoke(app, [*_args(okvqa_dir, preds), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n"] == 8 and report["missing"] == 1
    assert report["accuracy"] == round(100 * (1.0 + 0.9 + 1.0 + 0.6 + 0.9 + 0.6 + 0 + 0) / 8, 2) == 62.5
    assert report["per_question_type"] == {"eight": 95.0, "five": 30.0, "one": 90.0, "six": 100.0,
                                           "ten": 0.0, "three": 60.0}
    assert report["per_answer_type"] == {"other": 62.5}
    assert "hallucination" not in report


def test_table_report(okvqa_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, _args(okvqa_dir, write(tmp_path / "results.json", PREDICTIONS)))
    assert result.exit_code == 0, result.output
    assert "62.50" in result.stdout and "question type: eight" in result.stdout


def test_hallucination_with_kg(okvqa_dir: Path, tmp_path: Path) -> None:
    url = f"ladybug://{tmp_path / 'kg.lbdb'}"
    with open_store(url) as store:
        bundled.load_bundled(store)
    preds = write(tmp_path / "results.json",
                  [*PREDICTIONS, {"question_id": 10008, "answer": "quantum chromodynamics"}])
    result = runner.invoke(app, [*_args(okvqa_dir, preds), "--kg", url, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    flags = report["hallucination_flags"]
    assert report["hallucination_n"] == 8 and report["store"] == url
    assert flags["10008"] is True and flags["10001"] is False
    assert flags["10007"] is True  # wrong, and nothing links "yes."
    assert report["hallucination"] == pytest.approx(100 * sum(flags.values()) / 8), \
        "a percentage, as in `vqa evaluate` and the studies"


@pytest.mark.parametrize(("predictions", "message"), [
    ([{"question_id": 424242, "answer": "dog"}], r"\[K304\] A prediction names question id 424242"),
    ([{"question_id": 10001, "answer": "2"}, {"question_id": 10001, "answer": "3"}],
     r"\[K303\] .*results\.json: question id 10001 appears more than once"),
    ({"10001": "2"}, r"\[K301\] .*results\.json: top level: expected a list"),
])
def test_errors(okvqa_dir: Path, tmp_path: Path, predictions: object, message: str) -> None:
    result = runner.invoke(app, _args(okvqa_dir, write(tmp_path / "results.json", predictions)))
    assert result.exit_code == 1
    assert isinstance(result.exception, InputFormatError)
    assert len(str(result.exception).splitlines()) == 1
    assert re.search(message, str(result.exception))


def test_missing_file(okvqa_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, _args(okvqa_dir, tmp_path / "absent.json"))
    assert result.exit_code == 1
    assert str(result.exception).startswith("[K002] No such file or directory:")
    assert str(result.exception).endswith("absent.json.")


def test_installed_cli_prints_one_line_and_exits_1(okvqa_dir: Path, tmp_path: Path) -> None:
    preds = write(tmp_path / "results.json", [{"question_id": 424242, "answer": "dog"}])
    env = dict(os.environ, KGPRUNE_HOME=str(tmp_path), COLUMNS="200")
    proc = subprocess.run([sys.executable, "-m", "kgprune", *_args(okvqa_dir, preds)],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: [K304]") and len(proc.stderr.strip().splitlines()) == 1
