"""A run's reports, rendered from cells.jsonl alone, so they can be redrawn at any time (during a
run, after a crash, after a change to the report code) without running a cell again.

results.json holds every number; results.csv one row per cell; summary.csv one row per group of
seeds; report.md the study's tables, the paired comparison and the figures.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgprune.atomic import write_atomic
from kgprune.errors import Errors, ExperimentError
from kgprune.experiments.aggregate import GROUP_FIELDS, Group, groups, latest
from kgprune.experiments.coerce import format_layer_range
from kgprune.experiments.layout import layout_of, study_tables
from kgprune.experiments.plots import render_plots
from kgprune.experiments.records import CellRecord
from kgprune.experiments.run_dir import (
    CELLS,
    CONFIG,
    INPUTS,
    read_inputs,
    read_records,
)
from kgprune.experiments.spec import CELL_FIELDS, STUDIES
from kgprune.experiments.tables import ReportTable, ordered_metrics, paired_table

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
SUMMARY_CSV = "summary.csv"
REPORT_MD = "report.md"
REPORT_FORMAT = 1


@dataclass(frozen=True, slots=True)
class Report:
    run_dir: Path
    study: str
    finished: int
    total: int
    tables: tuple[ReportTable, ...]
    files: tuple[Path, ...]
    plots: tuple[Path, ...]


def render_report(run_dir: Path) -> Report:
    """Write every report file of `run_dir` from its records, and return its tables."""
    inputs = read_inputs(run_dir)
    records = latest(read_records(run_dir))
    if not records:
        raise ExperimentError(Errors.K615.format(path=run_dir))
    study = str(inputs["study"])
    found = groups(records)
    comparisons = layout_of(study, found).comparisons(records)
    tables = study_tables(study, found)
    if comparisons:
        tables.append(paired_table(comparisons))
    plots = render_plots(run_dir, found, comparisons)
    total = int(inputs.get("cells", len(records)))
    results = {"format": REPORT_FORMAT, "run": run_dir.name, "study": study,
               "finished_cells": len(records), "total_cells": total, "inputs": inputs,
               "cells": [r.to_json() for r in records], "groups": [g.to_dict() for g in found],
               "comparisons": [p.to_dict() for p in comparisons],
               "tables": [t.to_dict() for t in tables], "plots": [p.name for p in plots]}
    files = {RESULTS_JSON: json.dumps(results, indent=1, ensure_ascii=False, allow_nan=False),
             RESULTS_CSV: _cells_csv(records), SUMMARY_CSV: _summary_csv(found),
             REPORT_MD: _markdown(run_dir, inputs, len(records), total, tables, plots)}
    for name, text in files.items():
        write_atomic(run_dir / name, text)
    return Report(run_dir, study, len(records), total, tuple(tables),
                  tuple(run_dir / name for name in files), tuple(plots))


def _csv(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _plain(name: str, value: Any) -> Any:
    if name == "layer_range":
        return format_layer_range(value)
    return "" if value is None else value


def _cells_csv(records: Sequence[CellRecord]) -> str:
    metrics = ordered_metrics({m for r in records for m in r.metrics})
    header = ["cell_id", *CELL_FIELDS, "wall_s", "finished_utc", *metrics]
    rows = [[r.cell_id, *(_plain(f, getattr(r.cell, f)) for f in CELL_FIELDS), r.wall_s,
             r.finished_utc, *(r.metrics.get(m, "") for m in metrics)] for r in records]
    return _csv(header, rows)


def _summary_csv(found: Sequence[Group]) -> str:
    metrics = ordered_metrics({m for g in found for m in g.stats})
    parts = ("mean", "std", "ci_low", "ci_high")
    header = [*GROUP_FIELDS, "n", "seeds", *(f"{m}_{p}" for m in metrics for p in parts)]
    rows = []
    for g in found:
        row: list[Any] = [_plain(f, g.fields[f]) for f in GROUP_FIELDS]
        row += [len(g.seeds), " ".join(str(s) for s in g.seeds)]
        for m in metrics:
            stat = g.stats.get(m)
            values = (None,) * 4 if stat is None else (stat.mean, stat.std, stat.low, stat.high)
            row += [_plain(m, v) for v in values]
        rows.append(row)
    return _csv(header, rows)


DEFINITIONS = (
    "**Compression** is the share of the *prunable* parameters that pruning removed: the "
    "weights of attention heads (their q/k/v rows and output-projection columns) and of FFN "
    "neurons (up rows and down columns). Embeddings, norms and answer heads cannot be pruned, "
    "so the share of all parameters removed is smaller: *params kept* is that share of the "
    "whole model. **Speedup** is the unpruned model's batch-32 latency over the pruned "
    "model's, timed side by side; *ideal speedup* is their ratio of FLOPs. Values are means "
    "over seeds with the half-width of the 95% t-interval (±).")


def _markdown(run_dir: Path, inputs: dict[str, Any], finished: int, total: int,
              tables: Sequence[ReportTable], plots: Sequence[Path]) -> str:
    study = str(inputs["study"])
    spec = inputs["spec"]
    summary = STUDIES[study].summary if study in STUDIES else ""
    session = inputs["sessions"][-1]
    v = session.get("versions", {})
    state = "all" if finished >= total else f"{finished} of {total}"
    lines = [f"# {study}: {summary}", "",
             f"Run `{run_dir.name}`, started {inputs.get('created_utc', '?')}: {state} cells "
             f"finished ({len(inputs['sessions'])} session(s)). Seeds "
             f"{', '.join(str(s) for s in inputs.get('seeds', []))}; model `{spec.get('model')}`; "
             f"data `{spec.get('data') or 'built-in benchmark'}`; store "
             f"`{spec.get('store') or 'embedded, bundled KG'}`.", ""]
    if spec.get("quick"):
        lines += ["**Quick settings** (a smoke run with tiny budgets): the numbers show that the "
                  "pipeline works, not what the method achieves.", ""]
    if finished < total:
        lines += [f"**Partial**: {total - finished} cells have not finished; resume with "
                  f"`kgprune experiment {study} --config {CONFIG} --run-dir {run_dir}`.", ""]
    lines += ["## Results", "", DEFINITIONS, ""] + [t.to_markdown() for t in tables]
    if plots:
        lines += ["## Figures", ""]
        lines += [f"![{p.stem.replace('_', ' ')}]({p.name})\n" for p in plots]
    context = inputs.get("context") or {}
    if context:
        lines += ["## Inputs", ""]
        lines += [f"- {key}: `{json.dumps(value, ensure_ascii=False)}`"
                  for key, value in context.items()]
        lines.append("")
    lines += ["## Provenance", "",
              f"kgprune {v.get('kgprune', '?')} (commit {v.get('kgprune_commit', 'unknown')}, "
              f"{v.get('kgprune_tree', 'unknown')} tree), torch {v.get('torch', '?')}, "
              f"transformers {v.get('transformers', '?')}, python {v.get('python', '?')}; "
              f"{session.get('host', {}).get('os', '?')}.", "",
              f"Files: `{INPUTS}` (spec, versions, host, inputs), `{CELLS}` (one line per "
              f"finished cell), `{RESULTS_JSON}` (every number), `{RESULTS_CSV}` (one row per "
              f"cell), `{SUMMARY_CSV}` (one row per group of seeds). Reproduce with "
              f"`kgprune experiment {study} --config {CONFIG}`.", ""]
    return "\n".join(lines)
