"""Reports from cells.jsonl: CSV columns, JSON, Markdown tables and PNG figures."""

from __future__ import annotations

import csv
import json
import math
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rich.console import Console

from kgprune.errors import ExperimentError
from kgprune.experiments.config import load_spec
from kgprune.experiments.report import (
    REPORT_MD,
    RESULTS_CSV,
    RESULTS_JSON,
    SUMMARY_CSV,
    render_report,
)
from kgprune.experiments.run_dir import CELLS
from kgprune.experiments.runner import run_study
from kgprune.experiments.spec import CELL_FIELDS
from kgprune.experiments.tables import format_value

from .conftest import FormulaRunner

PNG = b"\x89PNG\r\n\x1a\n"


def _run(tmp_path: Path, study: str, *sets: str, runner: FormulaRunner | None = None) -> Path:
    run_dir = tmp_path / study
    spec = load_spec(study, sets=list(sets))
    run_study(spec, runner or FormulaRunner(), run_dir, Console(file=StringIO()))
    return run_dir


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open(encoding="utf-8")))


def _assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) > 100


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """full + knowledge + magnitude at 20% and 50%, seeds 0-2: 15 cells."""
    return _run(tmp_path_factory.mktemp("report"), "sweep", "methods=full,knowledge,magnitude",
                "ratios=0.2,0.5", "seeds=0,1,2")


def test_results_csv_has_one_row_per_cell(sweep: Path) -> None:
    rows = _rows(sweep / RESULTS_CSV)
    header = next(csv.reader((sweep / RESULTS_CSV).open(encoding="utf-8")))
    assert header[:len(CELL_FIELDS) + 3] == ["cell_id", *CELL_FIELDS, "wall_s", "finished_utc"]
    assert header[len(CELL_FIELDS) + 3:] == [
        "params_removed", "oneshot_accuracy", "oneshot_ce", "accuracy", "test_ce",
        "hallucination", "speedup", "ideal_speedup", "memory_mb", "params_ratio",
        "importance_s", "step_s", "finetune_s", "rank_self", "rank_vs_magnitude"]
    assert len(rows) == 15
    row = next(r for r in rows if r["cell_id"] == "knowledge-r0.2-lam0.5-s1")
    assert float(row["accuracy"]) == pytest.approx(75 - 20 * 0.2 + 0.5)
    assert (row["method"], row["ratio"], row["seed"], row["layer_range"]) == \
        ("knowledge", "0.2", "1", "")


def test_summary_csv_has_one_row_per_group_with_intervals(sweep: Path) -> None:
    rows = _rows(sweep / SUMMARY_CSV)
    assert len(rows) == 5
    row = next(r for r in rows if r["method"] == "knowledge" and r["ratio"] == "0.2")
    half = 4.302653 * 0.5 / math.sqrt(3)  # accuracies 71, 71.5, 72: std 0.5
    assert (row["n"], row["seeds"]) == ("3", "0 1 2")
    assert float(row["accuracy_mean"]) == pytest.approx(71.5)
    assert float(row["accuracy_std"]) == pytest.approx(0.5)
    assert float(row["accuracy_ci_low"]) == pytest.approx(71.5 - half)
    assert float(row["accuracy_ci_high"]) == pytest.approx(71.5 + half)


def test_results_json_holds_every_number(sweep: Path) -> None:
    results = json.loads((sweep / RESULTS_JSON).read_text(encoding="utf-8"))
    assert (results["study"], results["finished_cells"], results["total_cells"]) == \
        ("sweep", 15, 15)
    assert len(results["cells"]) == 15 and len(results["groups"]) == 5
    assert results["inputs"]["spec"]["ratios"] == [0.2, 0.5]
    accuracy = {c["fields"]["ratio"]: c for c in results["comparisons"]
                if c["metric"] == "accuracy"}
    assert accuracy[0.2]["diff"]["mean"] == pytest.approx(0.8)  # penalty 24 vs 20, times 0.2
    assert accuracy[0.5]["diff"]["mean"] == pytest.approx(2.0)
    assert accuracy[0.5]["wins"] == 3 and accuracy[0.5]["seeds"] == [0, 1, 2]
    assert sorted(results["plots"]) == ["accuracy_vs_compression.png",
                                        "hallucination_vs_compression.png",
                                        "oneshot_accuracy_vs_compression.png",
                                        "speedup_vs_ideal.png"]


def test_report_md_has_table_1_and_the_paired_comparison(sweep: Path) -> None:
    text = (sweep / REPORT_MD).read_text(encoding="utf-8")
    assert "### Table 1: methods by compression" in text
    assert ("| method | compression | n | params removed (all) | one-shot accuracy (%) | "
            "one-shot CE | accuracy (%) | test CE | hallucination (%) | speedup | "
            "memory (MB) |") in text
    # the full model is its own one-shot model; CE = 1 + (75 - accuracy) / 50
    assert ("| full | 0% | 3 | 0.0% ± 0.0% | 75.5 ± 1.2 | 0.990 ± 0.025 | 75.5 ± 1.2 | "
            "0.990 ± 0.025 | 11.8 ± 0.6 | 1.00× ± 0.00 | 400.0 ± 0.0 |") in text
    # accuracies 71, 71.5, 72 after fine-tuning; one-shot pays the penalty 20 x 0.2 again
    assert "| knowledge | 20% | 3 | 4.0% ± 0.0% | 67.5 ± 1.2 | 1.150 ± 0.025 | 71.5 ± 1.2 |" \
        in text
    assert "| knowledge − magnitude | compression 50% | accuracy (%) | 2.0 | [2.0, 2.0] | " \
           "3/0/0 | 3 |" in text
    assert "| knowledge − magnitude | compression 50% | one-shot accuracy (%) | 4.0 | " \
           "[4.0, 4.0] | 3/0/0 | 3 |" in text
    assert "### Rank agreement of importance (Spearman ρ, unpruned model)" in text
    assert "| knowledge | 3 | 0.810 ± 0.025 | 0.200 ± 0.000 |" in text
    assert "![accuracy vs compression](accuracy_vs_compression.png)" in text
    assert "Partial" not in text and "kgprune experiment sweep --config config.toml" in text


def test_figures_are_pngs_and_only_where_there_is_data(sweep: Path) -> None:
    for name in ("accuracy_vs_compression.png", "hallucination_vs_compression.png",
                 "oneshot_accuracy_vs_compression.png", "speedup_vs_ideal.png"):
        _assert_png(sweep / name)
    assert not (sweep / "accuracy_vs_coverage.png").exists()
    assert not (sweep / "layer_sensitivity.png").exists()


def test_coverage_and_sensitivity_studies_draw_their_figures(tmp_path: Path) -> None:
    coverage = _run(tmp_path, "ablate-coverage", "seeds=0,1", "coverages=0.5,1.0",
                    "strategies=edge,walk")
    _assert_png(coverage / "accuracy_vs_coverage.png")
    assert not (coverage / "accuracy_vs_compression.png").exists()
    assert "| KG coverage 50% − KG coverage 100% |" in (coverage / REPORT_MD).read_text("utf-8")
    sensitivity = _run(tmp_path, "sensitivity", "seeds=0,1", "towers=vision,text",
                       "layer_ranges=0-1,2-3")
    _assert_png(sensitivity / "layer_sensitivity.png")
    groups = json.loads((sensitivity / RESULTS_JSON).read_text("utf-8"))["comparisons"]
    drops = {(c["fields"]["tower"], tuple(c["fields"]["layer_range"])): c["diff"]["mean"]
             for c in groups if c["metric"] == "accuracy"}
    assert drops == {(t, r): pytest.approx(-0.4 * 20 - 1 - r[0])
                     for t in ("vision", "text") for r in ((0, 1), (2, 3))}


def test_budget_table_shows_accuracy_by_steps_and_the_spread_between_methods(
        tmp_path: Path) -> None:
    run = _run(tmp_path, "budget", "seeds=0,1", "methods=full,knowledge,random",
               "ratios=0.5", "budgets=10,90")
    text = (run / REPORT_MD).read_text(encoding="utf-8")
    assert "| method | compression | 0 (one-shot) | 10 | 90 |" in text
    # knowledge 50%, seeds 0 and 1: fine-tuned 65 + 0.5 s, one-shot 10 lower, steps win back
    # 10 / 20 and 90 / 100 of it; CE 1 + (75 - accuracy) / 50
    assert "| knowledge | 50% | 55.2 ± 3.2 · 1.395 | 60.2 ± 3.2 · 1.295 | " \
           "64.2 ± 3.2 · 1.215 |" in text
    # random pays 40 x 0.5 = 20 where knowledge pays 10: one-shot 35.25 vs 55.25, then each
    # wins back its share of its own loss: spreads 20, 15, 11
    assert "| spread (max − min) | 50% | 20.0 | 15.0 | 11.0 |" in text
    assert "Full model: 75.2 ± 3.2 · 0.995." in text


def test_label_free_table_and_pairs_cross_method_and_labels(tmp_path: Path) -> None:
    run = _run(tmp_path, "label-free", "seeds=0,1", "ratios=0.5", "labels=16",
               "baselines=full,magnitude")
    text = (run / REPORT_MD).read_text(encoding="utf-8")
    assert "| scoring | one-shot 50% | fine-tuned 50% |" in text
    assert "| knowledge, no labels | 55.2 ± 3.2 · 1.395 | 65.2 ± 3.2 · 1.195 |" in text
    # task on 16 labels pays 21 + 40 / 16 = 23.5 per unit ratio
    assert "| task, 16 labels | 51.8 ± 3.2 · 1.465 | 63.5 ± 3.2 · 1.230 |" in text
    assert "| knowledge, no labels − task, 16 labels | compression 50% | accuracy (%) | 1.8 " \
           "| [1.8, 1.8] | 2/0/0 | 2 |" in text
    assert "| knowledge, no labels − magnitude (no data) | compression 50% | " \
           "one-shot accuracy (%) | 4.0 | [4.0, 4.0] | 2/0/0 | 2 |" in text
    assert "| magnitude | 50% | – | 2 |" in text, "labels mean nothing to magnitude"


def test_a_partial_run_reports_what_finished_and_rerenders(tmp_path: Path) -> None:
    spec_sets = ("methods=full,knowledge,magnitude", "ratios=0.2,0.5", "seeds=0,1")
    cells = load_spec("sweep", sets=list(spec_sets)).cells()
    with pytest.raises(RuntimeError):
        _run(tmp_path, "sweep", *spec_sets, runner=FormulaRunner(fail_on=cells[4].cell_id))
    run_dir = tmp_path / "sweep"
    (run_dir / "layer_sensitivity.png").write_bytes(PNG)  # a stale figure of an earlier render
    report = render_report(run_dir)
    assert (report.finished, report.total) == (4, 10)
    text = (run_dir / REPORT_MD).read_text(encoding="utf-8")
    assert "**Partial**: 6 cells have not finished" in text
    assert not (run_dir / "layer_sensitivity.png").exists()
    assert len(_rows(run_dir / RESULTS_CSV)) == 4


def test_reporting_a_run_without_finished_cells_is_an_error(tmp_path: Path) -> None:
    first = load_spec("overhead").cells()[0].cell_id
    with pytest.raises(RuntimeError):
        _run(tmp_path, "overhead", runner=FormulaRunner(fail_on=first))
    assert not (tmp_path / "overhead" / CELLS).exists()
    with pytest.raises(ExperimentError, match="K615"):
        render_report(tmp_path / "overhead")
    with pytest.raises(ExperimentError, match=r"K612.*inputs\.json"):
        render_report(tmp_path / "nothing")


def test_values_that_round_to_zero_have_no_sign() -> None:
    assert format_value(-0.04, "finetune_s") == format_value(0.0, "finetune_s")
    assert format_value(-0.4, "accuracy").startswith("-")
    assert format_value(-0.0004, "speedup") == "0.00×"


def _figure(monkeypatch: pytest.MonkeyPatch, name: str, run_dir: Path) -> Any:
    """The matplotlib figure `name` would be saved as, for its artists."""
    from kgprune.experiments import plots

    drawn: dict[str, Any] = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.setdefault(path.name, fig))
    render_report(run_dir)
    return drawn[name]


def test_compression_figure_offsets_methods_and_states_its_bars(
        sweep: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fig = _figure(monkeypatch, "accuracy_vs_compression.png", sweep)
    ax = fig.axes[0]
    xs = {c.get_label(): tuple(c.lines[0].get_xdata()) for c in ax.containers
          if c.get_label() != "full model"}
    assert len(xs) >= 2 and len(set(xs.values())) == len(xs), "each method at its own x"
    footnote = " ".join(t.get_text() for t in fig.texts)
    assert "95% t-interval" in footnote and "n = 3 seeds per point" in footnote


def test_speedup_figure_labels_each_ratio_once_and_never_below_zero(
        sweep: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fig = _figure(monkeypatch, "speedup_vs_ideal.png", sweep)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert sorted(labels) == sorted(set(labels)), "one label per compression level"
    lows = [segment[0][1] for collection in ax.collections
            for segment in collection.get_segments()]
    assert lows and min(lows) > 0, "a speedup interval never reaches zero"
    assert "on log(speedup)" in " ".join(t.get_text() for t in fig.texts)


def test_speedup_figure_shows_ranges_below_three_seeds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = _run(tmp_path, "sweep", "methods=full,magnitude", "ratios=0.2,0.5", "seeds=0,1")
    fig = _figure(monkeypatch, "speedup_vs_ideal.png", run_dir)
    assert "else the min-max range" in " ".join(t.get_text() for t in fig.texts)


def test_ratio_intervals_are_on_the_log_scale_from_three_seeds() -> None:
    from kgprune.experiments.aggregate import summarize
    from kgprune.experiments.plots import _ratio_point

    centre, below, above = _ratio_point(summarize([1.05, 1.3, 1.9]))
    assert centre == pytest.approx((1.05 * 1.3 * 1.9) ** (1 / 3))
    assert centre - below > 0 and above > below, "asymmetric, and above zero"
    plain = summarize([1.05, 1.3, 1.9])
    assert plain.low is not None and plain.low < 0.5, "where a t-interval would go far lower"
    centre, below, above = _ratio_point(summarize([1.1, 1.4]))
    assert (centre - below, centre + above) == pytest.approx((1.1, 1.4))


def test_legend_names_lambda_and_report_defines_compression(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = _run(tmp_path, "ablate-loss", "seeds=0,1", "ratios=0.2,0.5")
    fig = _figure(monkeypatch, "accuracy_vs_compression.png", run_dir)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "λ = 0" in legend and "λ = 0.5" in legend
    assert "**Compression** is the share of the *prunable* parameters" in \
        (run_dir / REPORT_MD).read_text()
