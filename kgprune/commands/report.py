"""`kgprune report RUN_DIR`: redraw a run's reports from its finished cells and show them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from kgprune.commands.common import JsonOpt, err, out, print_json
from kgprune.experiments.report import RESULTS_JSON, render_report


def report(
    run_dir: Annotated[Path, typer.Argument(help="A run directory of `kgprune experiment`.")],
    as_json: JsonOpt = False,
) -> None:
    """Re-render report.md, results.json/csv, summary.csv and the figures from cells.jsonl."""
    rendered = render_report(run_dir)
    if as_json:
        print_json(json.loads((run_dir / RESULTS_JSON).read_text(encoding="utf-8")))
        return
    for table in rendered.tables:
        out.print(table.to_rich())
    err.print(f"{rendered.finished} of {rendered.total} cells finished; wrote "
              f"{', '.join(p.name for p in rendered.files + rendered.plots)} in {run_dir}",
              highlight=False)
