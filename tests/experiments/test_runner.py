"""run_study and the run directory: records, resumption, torn lines, refusals, never overwriting."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from kgprune.errors import ExperimentError
from kgprune.experiments.config import load_spec
from kgprune.experiments.records import CellResult
from kgprune.experiments.run_dir import (
    CELLS,
    CONFIG,
    INPUTS,
    RunDir,
    default_run_dir,
    read_records,
)
from kgprune.experiments.runner import CellRunner, run_study
from kgprune.experiments.spec import Cell, StudySpec

from .conftest import FormulaRunner


def _quiet() -> Console:
    return Console(file=StringIO(), width=120)


def _spec(**sets: str) -> StudySpec:
    """A small sweep: full + 2 methods x 2 ratios, 2 seeds = 10 cells."""
    base = {"methods": "full,knowledge,magnitude", "ratios": "0.2,0.5", "seeds": "0,1"}
    return load_spec("sweep", sets=[f"{k}={v}" for k, v in (base | sets).items()])


def test_a_run_records_every_cell_inputs_and_config(tmp_path: Path,
                                                    formula_runner: FormulaRunner) -> None:
    spec = _spec()
    assert isinstance(formula_runner, CellRunner)
    result = run_study(spec, formula_runner, tmp_path / "run", _quiet())
    ids = [c.cell_id for c in spec.cells()]
    assert (result.total, result.ran, result.skipped, result.resumed) == (10, 10, 0, False)
    assert formula_runner.ran == ids and formula_runner.prepared == 1
    records = read_records(tmp_path / "run")
    assert [r.cell_id for r in records] == ids
    assert records[1].metrics["accuracy"] == pytest.approx(75 - 20 * 0.2)
    assert records[1].info == {"device": "formula"}
    inputs = json.loads((tmp_path / "run" / INPUTS).read_text(encoding="utf-8"))
    assert inputs["spec"] == spec.to_dict() and inputs["seeds"] == [0, 1]
    assert inputs["cells"] == 10 and inputs["context"] == {"model": "formula", "kg_facts": 19}
    versions = inputs["sessions"][0]["versions"]
    assert {"python", "torch", "transformers", "kgprune"} <= versions.keys()
    assert "cpus" in inputs["sessions"][0]["host"]
    assert load_spec("sweep", tmp_path / "run" / CONFIG) == spec


def test_resume_runs_only_unfinished_cells(tmp_path: Path) -> None:
    spec = _spec()
    ids = [c.cell_id for c in spec.cells()]
    crashing = FormulaRunner(fail_on=ids[4])
    with pytest.raises(RuntimeError, match="interrupted"):
        run_study(spec, crashing, tmp_path / "run", _quiet())
    assert len(read_records(tmp_path / "run")) == 4
    resumed = FormulaRunner(context={"model": "formula", "kg_facts": 20})
    result = run_study(spec, resumed, tmp_path / "run", _quiet())
    assert resumed.ran == ids[4:] and (result.ran, result.skipped, result.resumed) == (6, 4, True)
    assert [r.cell_id for r in read_records(tmp_path / "run")] == ids
    sessions = json.loads((tmp_path / "run" / INPUTS).read_text(encoding="utf-8"))["sessions"]
    assert len(sessions) == 2 and sessions[1]["context"]["kg_facts"] == 20
    again = FormulaRunner()
    assert run_study(spec, again, tmp_path / "run", _quiet()).ran == 0 and again.ran == []


def test_a_torn_last_line_is_dropped_and_its_cell_runs_again(tmp_path: Path) -> None:
    spec = _spec(seeds="0")
    ids = [c.cell_id for c in spec.cells()]
    with pytest.raises(RuntimeError):
        run_study(spec, FormulaRunner(fail_on=ids[3]), tmp_path / "run", _quiet())
    cells = tmp_path / "run" / CELLS
    lines = cells.read_bytes().splitlines(keepends=True)
    cells.write_bytes(b"".join(lines[:2]) + lines[2][:40])  # the third write was cut short
    assert [r.cell_id for r in read_records(tmp_path / "run")] == ids[:2]
    runner = FormulaRunner()
    run_study(spec, runner, tmp_path / "run", _quiet())
    assert runner.ran == ids[2:]
    assert [r.cell_id for r in read_records(tmp_path / "run")] == ids
    assert all(json.loads(line) for line in cells.read_text(encoding="utf-8").splitlines())


def test_a_corrupt_line_inside_the_file_is_an_error(tmp_path: Path) -> None:
    spec = _spec(seeds="0")
    run_study(spec, FormulaRunner(), tmp_path / "run", _quiet())
    cells = tmp_path / "run" / CELLS
    lines = cells.read_text(encoding="utf-8").splitlines(keepends=True)
    cells.write_text("".join(lines[:1] + ["{not json\n"] + lines[1:]), encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"K613.*cells\.jsonl:2"):
        run_study(spec, FormulaRunner(), tmp_path / "run", _quiet())


def test_another_spec_never_resumes_or_overwrites_a_run(tmp_path: Path) -> None:
    run_study(_spec(seeds="0"), FormulaRunner(), tmp_path / "run", _quiet())
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()}
    runner = FormulaRunner()
    with pytest.raises(ExperimentError, match=r"K610.*seeds: recorded \[0\], now \[0, 1\]"):
        run_study(_spec(seeds="0,1"), runner, tmp_path / "run", _quiet())
    with pytest.raises(ExperimentError, match=r"K610.*study: recorded 'sweep', now 'overhead'"):
        run_study(load_spec("overhead"), runner, tmp_path / "run", _quiet())
    assert runner.prepared == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir() if p.is_file()} == before


def test_directories_that_are_not_runs_are_refused(tmp_path: Path) -> None:
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"K611.*no inputs\.json"):
        run_study(_spec(), FormulaRunner(), tmp_path / "other", _quiet())
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(ExperimentError, match=r"K611.*a file"):
        run_study(_spec(), FormulaRunner(), tmp_path / "file", _quiet())
    assert (tmp_path / "other" / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_new_run_directories_never_collide(tmp_path: Path) -> None:
    now = datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC)
    first = default_run_dir(tmp_path, "sweep", now)
    assert first.name == "sweep-20250301T120005Z"
    run_study(_spec(seeds="0"), FormulaRunner(), first, _quiet())
    second = default_run_dir(tmp_path, "sweep", now)
    assert second.name == "sweep-20250301T120005Z-2"


def test_one_process_at_a_time(tmp_path: Path) -> None:
    spec = _spec(seeds="0")
    with RunDir.open(tmp_path / "run", spec):
        with pytest.raises(ExperimentError, match="K616"):
            RunDir.open(tmp_path / "run", spec)
    RunDir.open(tmp_path / "run", spec).close()


class _Broken(FormulaRunner):
    def __init__(self, result: object) -> None:
        super().__init__()
        self.result = result

    def run(self, cell: Cell) -> CellResult:
        return self.result  # type: ignore[return-value]


@pytest.mark.parametrize(("result", "what"), [
    (CellResult({"accuracy": float("nan")}), "metric 'accuracy' = nan"),
    (CellResult({"accuracy": "70"}), "metric 'accuracy' = '70'"),
    ({"accuracy": 70.0}, "a dict, not a CellResult"),
])
def test_invalid_results_are_refused_and_not_recorded(tmp_path: Path, result: object,
                                                       what: str) -> None:
    with pytest.raises(ExperimentError, match=rf"K614.*{what}.*'full-s0'"):
        run_study(_spec(seeds="0"), _Broken(result), tmp_path / "run", _quiet())
    assert read_records(tmp_path / "run") == []


def test_a_failed_prepare_leaves_no_new_directory(tmp_path: Path) -> None:
    class Failing(FormulaRunner):
        def prepare(self, spec: StudySpec) -> dict[str, object]:
            raise RuntimeError("no model")

    with pytest.raises(RuntimeError, match="no model"):
        run_study(_spec(), Failing(), tmp_path / "runs" / "new", _quiet())
    assert not (tmp_path / "runs" / "new").exists()


def test_a_log_gets_one_line_per_cell_and_no_progress_frames(
        tmp_path: Path, formula_runner: FormulaRunner) -> None:
    log = StringIO()
    spec = _spec()
    run_study(spec, formula_runner, tmp_path / "run", Console(file=log, width=20))
    lines = log.getvalue().splitlines()
    ids = [c.cell_id for c in spec.cells()]
    assert lines == [f"[{i}/{len(ids)}] {cell} ({line.rsplit('(', 1)[1]}"
                     for i, (cell, line) in enumerate(zip(ids, lines), 1)]
    assert "━" not in log.getvalue() and "…" not in log.getvalue(), "never cut, even at 20 cols"
