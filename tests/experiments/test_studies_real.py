"""Every study of `kgprune experiment` end to end on the real cell runner (PruningCellRunner),
with quick budgets and tiny grids: the records, the numbers' ranges, the reports, the figures, and
resuming a killed run. The stand-in runner of the other tests cannot catch a real runner that
breaks a study; these tests do."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from kgprune.cli import app
from kgprune.errors import ExperimentError
from kgprune.experiments import cells
from kgprune.experiments.config import load_spec
from kgprune.experiments.labels import AnswersWithheld
from kgprune.experiments.records import CellRecord
from kgprune.experiments.report import (
    REPORT_MD,
    RESULTS_CSV,
    RESULTS_JSON,
    SUMMARY_CSV,
)
from kgprune.experiments.run_dir import CELLS, CONFIG, INPUTS, read_records
from kgprune.experiments.spec import FULL, STUDIES
from kgprune.pruning.data import PruningData
from kgprune.pruning.schedule import PruneConfig, prune

cli = CliRunner()
PNG = b"\x89PNG\r\n\x1a\n"
SPEEDUP = "speedup_vs_ideal.png"
FILES = (INPUTS, CONFIG, CELLS, RESULTS_JSON, RESULTS_CSV, SUMMARY_CSV, REPORT_MD)

GRIDS: dict[str, tuple[str, ...]] = {
    # two ratios draw the compression curves; magnitude gives the knowledge - magnitude pairs
    "sweep": ("methods=full,knowledge,magnitude", "ratios=0.3,0.5"),
    # knowledge at 30%, λ = 0 and λ = 0.5, in two rounds (the one-shot model is then its own)
    "ablate-loss": ("rounds=2",),
    # every criterion at 50%, per pool and without normalisation
    "ablate-importance": ("normalizations=tower_kind,none",),
    "budget": ("methods=full,knowledge", "ratios=0.5", "budgets=0,2"),
    "label-free": ("ratios=0.5", "labels=4", "baselines=full,magnitude"),
    "ablate-coverage": ("coverages=0.5,1.0", "strategies=edge"),
    "sensitivity": ("towers=vision", "layer_ranges=0-0,1-1"),
    "cross-domain": ("eval_data=standard,paraphrase",),
    "quantize": ("methods=full,knowledge", "ratios=0.3"),
    "overhead": (),  # knowledge and magnitude, λ = 0 and λ = 0.5
}
FIGURES: dict[str, set[str]] = {
    "sweep": {"oneshot_accuracy_vs_compression.png", "accuracy_vs_compression.png",
              "hallucination_vs_compression.png", SPEEDUP},
    "ablate-coverage": {"accuracy_vs_coverage.png", SPEEDUP},
    "sensitivity": {"layer_sensitivity.png", SPEEDUP},
}
REPORT_TEXT: dict[str, tuple[str, ...]] = {
    "sweep": ("### Table 1: methods by compression", "| knowledge − magnitude |",
              "| one-shot accuracy (%) | one-shot CE | accuracy (%) | test CE |",
              "params removed (all)", "### Rank agreement of importance"),
    "ablate-loss": ("### ablate-loss: results", "| λ 0.5 − λ 0 |"),
    "ablate-importance": ("importance (s)", "| normalisation |", "ρ self (other samples)",
                          "| normalisation none − normalisation per pool |",
                          *(f"| knowledge − {m} |" for m in
                            ("task", "magnitude", "taylor", "activation"))),
    "budget": ("### Accuracy by fine-tuning budget (steps per round)",
               "| method | compression | 0 (one-shot) | 0 | 2 |", "| spread (max − min) |"),
    "label-free": ("### Label-free scoring: accuracy by scoring condition and compression",
                   "| knowledge, no labels |", "| task, 4 labels |",
                   "| knowledge, no labels − task, 4 labels |", "ρ vs task"),
    "ablate-coverage": ("| KG coverage |", "| KG coverage 50% − KG coverage 100% |"),
    "sensitivity": ("| layers |", "tower vision", "| knowledge − full |"),
    "cross-domain": ("### accuracy (%) by evaluation set (Table 2 layout)",
                     "| knowledge − magnitude |"),
    "quantize": ("| quantization |", "memory (MB)",
                 "| quantization int8 − quantization none |"),
    "overhead": ("### Overhead", "step time vs λ = 0", "importance / fine-tuning time",
                 "| λ 0.5 − λ 0 |", "fine-tune step (s)"),
}


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data home for the module: the built-in model trains once, not once per study."""
    return tmp_path_factory.mktemp("kgprune-home")


@pytest.fixture
def home(shared_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KGPRUNE_HOME", str(shared_home))  # over the autouse per-test home
    return shared_home


def _sets(study: str) -> list[str]:
    return ["seeds=0", *GRIDS[study]]


def _run(study: str, sets: list[str], *target: str) -> Result:
    args = ["experiment", study, "--quick", *(a for s in sets for a in ("--set", s)), *target]
    return cli.invoke(app, args)


def _check_metrics(record: CellRecord) -> None:
    """Accuracy and hallucination are percentages; size and FLOPs are kept / original;
    cross-entropies are positive; rank correlations lie in [-1, 1]."""
    m, cell = record.metrics, record.cell_id
    assert 0 <= m["accuracy"] <= 100 and 0 <= m["hallucination"] <= 100, cell
    assert 0 <= m["oneshot_accuracy"] <= 100 and m["test_ce"] > 0 and m["oneshot_ce"] > 0, cell
    assert m["params_removed"] == pytest.approx(1 - m["params_ratio"]), cell
    assert all(-1 <= v <= 1 for k, v in m.items() if k.startswith("rank_")), cell
    assert 0 < m["params_ratio"] <= 1 and 0 < m["flops_ratio"] <= 1, cell
    assert m["speedup"] > 0 and m["speedup_b1"] > 0 and m["ideal_speedup"] > 0, cell
    assert m["memory_mb"] > 0, cell
    if record.cell.method == FULL:
        assert m["params_ratio"] == 1 and "importance_s" not in m, cell
        assert (m["oneshot_accuracy"], m["oneshot_ce"]) == (m["accuracy"], m["test_ce"]), cell
    else:
        assert m["params_ratio"] < 1 and m["flops_ratio"] < 1, cell
        assert m["removed_ratio"] > 0 and m["importance_s"] >= 0, cell
        assert m["step_s"] > 0 or record.cell.steps == 0, cell


def _table(results: dict[str, Any], title: str) -> dict[str, Any]:
    (table,) = [t for t in results["tables"] if t["title"] == title]
    return table


def _check_study_specifics(study: str, records: list[CellRecord], results: dict[str, Any],
                           scored: list[tuple[str, int, int]]) -> None:
    """What the study is about shows in its numbers, not only in its headings. `scored` holds,
    per pruning, the method, its scoring samples and how many of them withheld their answers."""
    compared = {(p["field"], p["a"], p["b"], p["metric"]) for p in results["comparisons"]}
    pruned = [r for r in records if r.cell.method != FULL]
    if study in ("sweep", "ablate-importance", "label-free"):
        data_cells = [r for r in pruned if r.cell.method not in ("random", "magnitude")]
        assert data_cells and all("rank_self" in r.metrics for r in data_cells)
        assert all("rank_vs_magnitude" in r.metrics for r in data_cells)
    if study == "label-free":
        unlabeled = [r.cell for r in pruned if r.cell.labels == 0]
        assert [c.method for c in unlabeled] == ["knowledge"]
        assert [(m, n) for m, n, withheld in scored if withheld] == [("knowledge", 16)]
        assert all(withheld in (0, n) for _, n, withheld in scored)
        assert ("task", 4, 0) in scored, "task scores its 4 labelled samples, answers and all"
        assert ("condition", "knowledge, no labels", "task, 4 labels", "accuracy") in compared
    elif study == "budget":
        steps = {r.cell.steps: r.metrics for r in pruned}
        assert set(steps) == {0, 2}
        assert steps[0]["accuracy"] == steps[0]["oneshot_accuracy"], "0 steps: nothing tuned"
        assert steps[0]["oneshot_accuracy"] == steps[2]["oneshot_accuracy"], "same pruning"
        assert steps[2]["test_ce"] != steps[2]["oneshot_ce"], "2 steps change the model"
    elif study == "ablate-importance":
        assert {r.cell.normalize for r in pruned} == {"tower_kind", "none"}
        assert ("normalize", "none", "tower_kind", "accuracy") in compared
    elif study == "overhead":
        rows = {(r[0], r[1]): r for r in _table(results, "Overhead")["rows"]}
        assert set(rows) == {(m, lam) for m in ("knowledge", "magnitude") for lam in ("0", "0.5")}
        for method in ("knowledge", "magnitude"):
            assert rows[(method, "0")][2] == "–", "λ = 0 is the baseline"
            assert re.fullmatch(r"[+-]\d+\.\d%", rows[(method, "0.5")][2]), rows
            assert all(re.fullmatch(r"\d+\.\d%", rows[(method, lam)][3]) for lam in ("0", "0.5"))
        assert ("lam", 0.5, 0.0, "step_s") in compared
    elif study == "ablate-loss":
        assert {("lam", 0.5, 0.0, "accuracy"), ("lam", 0.5, 0.0, "hallucination")} <= compared
        one_shot = {(r.metrics["oneshot_accuracy"], r.metrics["oneshot_ce"]) for r in pruned}
        assert len(one_shot) == 1, "λ only changes fine-tuning: one one-shot model for both"
        assert len({r.metrics["test_ce"] for r in pruned}) == 2
    elif study == "cross-domain":
        table = _table(results, "accuracy (%) by evaluation set (Table 2 layout)")
        assert table["columns"] == ["method", "compression", "standard", "paraphrase"]
        assert [r[0] for r in table["rows"]] == ["full", "magnitude", "knowledge"]
        assert all("–" not in r[2:] for r in table["rows"]), table
        assert {r.cell.train_data for r in records} == {"standard"}
    elif study == "sensitivity":
        drops = {tuple(p["fields"]["layer_range"]) for p in results["comparisons"]
                 if p["metric"] == "accuracy" and p["b"] == FULL}
        assert drops == {(0, 0), (1, 1)}, "the heatmap shows the accuracy drop per layer range"
    elif study == "quantize":
        memory = {(r.cell.method, r.cell.quantize): r.metrics["memory_mb"] for r in records}
        for method in ("full", "knowledge"):
            assert memory[(method, "int8")] < memory[(method, "none")], memory
        assert {("quantize", "int8", "none", m) for m in ("accuracy", "speedup", "memory_mb")} \
            <= compared
    elif study == "ablate-coverage":
        assert ("coverage", 0.5, 1.0, "accuracy") in compared


def test_every_study_is_covered() -> None:
    assert set(GRIDS) == set(STUDIES)
    assert set(FIGURES) <= set(STUDIES) and set(REPORT_TEXT) == set(STUDIES)


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, int]]:
    """Spies on the runner's pruning: per call, the method, its scoring samples and how many of
    them withheld their answers."""
    calls: list[tuple[str, int, int]] = []

    def spy(adapter: Any, data: PruningData, config: PruneConfig, out: Path,
            **kwargs: Any) -> Any:
        scoring = kwargs.get("scoring") or data
        calls.append((config.method, len(scoring),
                      sum(isinstance(t, AnswersWithheld) for t in scoring.task)))
        return prune(adapter, data, config, out, **kwargs)

    monkeypatch.setattr(cells, "prune", spy)
    return calls


@pytest.mark.slow
@pytest.mark.parametrize("study", list(GRIDS))
def test_study_runs_end_to_end(study: str, home: Path, tmp_path: Path,
                               scored: list[tuple[str, int, int]]) -> None:
    out = tmp_path / "results"
    result = _run(study, _sets(study), "--out", str(out))
    assert result.exit_code == 0, result.output
    (run_dir,) = out.iterdir()
    assert run_dir.name.startswith(f"{study}-")
    for name in FILES:
        assert (run_dir / name).is_file(), name

    cells = load_spec(study, sets=_sets(study), quick=True).cells()
    records = read_records(run_dir)
    assert [r.cell_id for r in records] == [c.cell_id for c in cells]
    assert len((run_dir / CELLS).read_text(encoding="utf-8").splitlines()) == len(cells)
    assert f"Cells run: {len(cells)}, resumed: 0" in result.stderr
    for record in records:
        _check_metrics(record)

    results = json.loads((run_dir / RESULTS_JSON).read_text(encoding="utf-8"))
    assert results["study"] == study and results["inputs"]["cells"] == len(cells)
    assert results["finished_cells"] == results["total_cells"] == len(cells)
    assert [c["cell_id"] for c in results["cells"]] == [c.cell_id for c in cells]

    figures = {p.name for p in run_dir.glob("*.png")}
    assert figures == FIGURES.get(study, {SPEEDUP}) == set(results["plots"])
    for name in figures:
        assert (run_dir / name).read_bytes().startswith(PNG), name

    report = (run_dir / REPORT_MD).read_text(encoding="utf-8")
    assert report.startswith(f"# {study}: ") and "**Partial**" not in report
    for text in REPORT_TEXT[study]:
        assert text in report, text
    for name in figures:
        assert f"]({name})" in report, name
    _check_study_specifics(study, records, results, scored)


@pytest.mark.slow
def test_a_killed_run_resumes_only_its_missing_cell(home: Path, tmp_path: Path) -> None:
    sets = ["seeds=0", "methods=full,knowledge", "ratios=0.3"]
    first = _run("sweep", sets, "--out", str(tmp_path))
    assert first.exit_code == 0, first.output
    (run_dir,) = tmp_path.iterdir()
    cells = run_dir / CELLS
    lines = cells.read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) == 2
    cells.write_text(lines[0], encoding="utf-8")  # killed before the last cell was recorded

    again = _run("sweep", sets, "--run-dir", str(run_dir))
    assert again.exit_code == 0, again.output
    assert "Cells run: 1, resumed: 1" in again.stderr
    resumed = cells.read_text(encoding="utf-8").splitlines(keepends=True)
    assert resumed[0] == lines[0], "the finished cell is kept, not run again"
    expected = [c.cell_id for c in load_spec("sweep", sets=sets, quick=True).cells()]
    assert [r.cell_id for r in read_records(run_dir)] == expected
    inputs = json.loads((run_dir / INPUTS).read_text(encoding="utf-8"))
    assert len(inputs["sessions"]) == 2
    assert "**Partial**" not in (run_dir / REPORT_MD).read_text(encoding="utf-8")

    other = _run("sweep", ["seeds=0", "methods=full,knowledge", "ratios=0.5"],
                 "--run-dir", str(run_dir))
    assert other.exit_code != 0
    assert isinstance(other.exception, ExperimentError) and "K610" in str(other.exception)
    assert "ratios" in str(other.exception)
    assert cells.read_text(encoding="utf-8").splitlines(keepends=True) == resumed
