"""Run a study: expand its cells, skip the finished ones, run the rest, then write the reports.

What a cell does (prune, fine-tune, evaluate, measure) belongs to a `CellRunner`; this module owns
only order, resumption, recording and display, so any runner gets the same guarantees.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from kgprune.experiments.records import CellRecord, CellResult, checked_metrics
from kgprune.experiments.report import Report, render_report
from kgprune.experiments.run_dir import RunDir, utc_stamp
from kgprune.experiments.spec import Cell, StudySpec
from kgprune.experiments.tables import format_value, metric_info

LIVE_ROWS = 12
LIVE_METRICS = ("accuracy", "hallucination", "params_ratio", "speedup")


@runtime_checkable
class CellRunner(Protocol):
    """Runs cells of a study. `prepare` is called once per session, before any cell: it loads
    or trains what every cell shares, checks the spec (e.g. method names), and returns facts
    worth recording in inputs.json (model, data, KG statistics and view). It should return the
    same facts for the same spec; a resumed session whose facts differ is recorded as such."""

    def prepare(self, spec: StudySpec) -> Mapping[str, Any]: ...

    def run(self, cell: Cell) -> CellResult: ...


@dataclass(frozen=True, slots=True)
class StudyRun:
    run_dir: Path
    resumed: bool
    total: int
    skipped: int
    ran: int
    report: Report


def run_study(spec: StudySpec, runner: CellRunner, run_dir: Path,
              console: Console | None = None) -> StudyRun:
    """Run every unfinished cell of `spec` into `run_dir` (new, or an earlier run of the same
    spec), appending each result as it finishes, then render the reports."""
    console = console or Console(stderr=True)
    run = RunDir.open(run_dir, spec)
    try:
        try:
            context = runner.prepare(spec)
        except BaseException:
            run.discard()
            raise
        run.record_inputs(context)
        cells = spec.cells()
        finished = run.finished()
        todo = [c for c in cells if c.cell_id not in finished]
        if run.resumed:
            console.print(f"Resuming {run_dir}: {len(cells) - len(todo)} of {len(cells)} cells "
                          "already finished", highlight=False)
        _run_cells(run, runner, todo, len(cells), console)
    finally:
        run.close()
    return StudyRun(run_dir, run.resumed, len(cells), len(cells) - len(todo), len(todo),
                    render_report(run_dir))


def _run_cells(run: RunDir, runner: CellRunner, todo: list[Cell], total: int,
               console: Console) -> None:
    """On a terminal, a live table and bar; elsewhere (a log) one line per finished cell."""
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=console)
    task = progress.add_task(f"{run.spec.name}", total=total, completed=total - len(todo))
    done: list[CellRecord] = []
    live = Live(progress, console=console, refresh_per_second=4) if console.is_terminal else None
    with live or nullcontext():
        for cell in todo:
            progress.update(task, description=f"{run.spec.name}: {escape(cell.cell_id)}")
            start = time.perf_counter()
            result = runner.run(cell)
            metrics, info = checked_metrics(result, cell.cell_id)
            record = CellRecord(cell, metrics, info, round(time.perf_counter() - start, 3),
                                utc_stamp())
            run.append(record)
            done.append(record)
            progress.advance(task)
            if live is not None:
                live.update(Group(_table(done), progress))
            else:
                console.print(f"[{total - len(todo) + len(done)}/{total}] {cell.cell_id} "
                              f"({record.wall_s:.1f} s)", highlight=False, markup=False,
                              soft_wrap=True)
        progress.update(task, description=run.spec.name)


def _table(done: list[CellRecord]) -> Table:
    """The latest finished cells of this session, with the headline metrics."""
    shown = done[-LIVE_ROWS:]
    metrics = [m for m in LIVE_METRICS if any(m in r.metrics for r in shown)]
    table = Table(title=f"Finished this session: {len(done)}", title_justify="left")
    table.add_column("cell")
    for m in metrics:
        table.add_column(metric_info(m).label, justify="right")
    table.add_column("time (s)", justify="right")
    for r in shown:
        table.add_row(escape(r.cell_id),
                      *(format_value(r.metrics[m], m) if m in r.metrics else "–"
                        for m in metrics), f"{r.wall_s:.1f}")
    return table
