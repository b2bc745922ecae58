"""`kgprune experiment STUDY` and `kgprune report RUN_DIR` as a user runs them."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from kgprune.commands.experiment import experiment_app
from kgprune.commands.report import report
from kgprune.errors import ExperimentError
from kgprune.experiments.run_dir import read_records
from kgprune.experiments.spec import STUDIES, StudySpec

from .conftest import FormulaRunner

cli = CliRunner()
app = typer.Typer()
app.add_typer(experiment_app, name="experiment")
app.command("report")(report)


@pytest.fixture
def cells_module(monkeypatch: pytest.MonkeyPatch) -> list[FormulaRunner]:
    """Stands in for kgprune.experiments.cells; returns the runners it made."""
    made: list[FormulaRunner] = []

    def default_runner(spec: StudySpec) -> FormulaRunner:
        made.append(FormulaRunner())
        return made[-1]

    module = types.ModuleType("kgprune.experiments.cells")
    module.default_runner = default_runner  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kgprune.experiments.cells", module)
    return made


def test_every_study_has_a_command() -> None:
    result = cli.invoke(app, ["experiment", "--help"])
    assert result.exit_code == 0
    assert all(name in result.stdout for name in STUDIES)


def test_run_then_resume_then_report(tmp_path: Path, cells_module: list[FormulaRunner]) -> None:
    args = ["experiment", "ablate-loss", "--quick", "--set", "lams=0,0.5,1",
            "--out", str(tmp_path / "results")]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "results").iterdir()
    assert run_dir.name.startswith("ablate-loss-")
    assert len(read_records(run_dir)) == 2 * 3 and len(cells_module[0].ran) == 6
    assert "ablate-loss: results" in result.stdout and "λ 1 − λ 0" in result.stdout
    again = cli.invoke(app, [*args[:5], "--run-dir", str(run_dir)])
    assert again.exit_code == 0, again.output
    assert cells_module[1].ran == [] and "Cells run: 0, resumed: 6" in again.stderr
    shown = cli.invoke(app, ["report", str(run_dir)])
    assert shown.exit_code == 0 and "ablate-loss: results" in shown.stdout
    as_json = cli.invoke(app, ["report", str(run_dir), "--json"])
    assert json.loads(as_json.stdout)["finished_cells"] == 6


def test_config_file_and_dry_run(tmp_path: Path, cells_module: list[FormulaRunner]) -> None:
    config = tmp_path / "c.toml"
    config.write_text('seeds = [7]\nmethods = ["full", "magnitude"]\nratios = [0.5]\n',
                      encoding="utf-8")
    result = cli.invoke(app, ["experiment", "sweep", "--config", str(config), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "sweep: 2 cells" in result.stdout and "magnitude-r0.5-lam0.5-s7" in result.stdout
    assert cells_module == []


def test_errors_reach_the_caller(tmp_path: Path, cells_module: list[FormulaRunner]) -> None:
    result = cli.invoke(app, ["experiment", "sweep", "--set", "ratio=0.3"])
    assert isinstance(result.exception, ExperimentError) and "K600" in str(result.exception)


def test_missing_cell_runner_is_explained(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kgprune.experiments.cells", None)
    result = cli.invoke(app, ["experiment", "overhead", "--quick", "--out", str(tmp_path)])
    assert isinstance(result.exception, ExperimentError) and "K617" in str(result.exception)
    assert list(tmp_path.iterdir()) == []
