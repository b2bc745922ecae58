"""`kgprune experiment STUDY`: run one of the paper's studies into a results directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from kgprune.commands.common import err, out
from kgprune.errors import Errors, ExperimentError
from kgprune.experiments.config import load_spec, settings_help
from kgprune.experiments.run_dir import default_run_dir
from kgprune.experiments.runner import CellRunner, run_study
from kgprune.experiments.spec import STUDIES, StudySpec

experiment_app = typer.Typer(
    no_args_is_help=True,
    help="Run the paper's studies (tables, ablations, sensitivity, overhead) with seeds and "
         "intervals; an interrupted run resumes with --run-dir.")

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="TOML file with top-level settings, e.g. seeds = [0, 1, 2].")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override one setting: key=value, lists comma-separated (repeatable).")]
RunDirOpt = Annotated[Path | None, typer.Option(
    "--run-dir", help="Run directory; an earlier run of the same spec resumes there "
    "(default: OUT/<study>-<UTC time>).")]
QuickOpt = Annotated[bool, typer.Option("--quick", help="Tiny budgets and two seeds, for CI.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Where new run directories go.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="List the cells and stop.")]


def default_runner(spec: StudySpec) -> CellRunner:
    """The cell runner of kgprune.experiments.cells, imported only when a study runs."""
    try:
        from kgprune.experiments.cells import default_runner as make
    except ModuleNotFoundError as e:
        if e.name != "kgprune.experiments.cells":
            raise
        raise ExperimentError(Errors.K617.format(problem=e)) from None
    return make(spec)


def _cells_table(spec: StudySpec) -> Table:
    cells = spec.cells()
    table = Table(title=f"{spec.name}: {len(cells)} cells")
    for column in ("cell", "method", "ratio", "seed", "λ"):
        table.add_column(column, justify="left" if column in ("cell", "method") else "right")
    for c in cells:
        table.add_row(c.cell_id, c.method, f"{c.ratio:g}", str(c.seed), f"{c.lam:g}")
    return table


def _command(name: str) -> Callable[..., None]:
    def command(config: ConfigOpt = None, sets: SetOpt = None, run_dir: RunDirOpt = None,
                quick: QuickOpt = False, out_dir: OutOpt = Path("results"),
                dry_run: DryRunOpt = False) -> None:
        spec = load_spec(name, config, sets or (), quick)
        if dry_run:
            out.print(_cells_table(spec))
            return
        target = run_dir or default_run_dir(out_dir, name)
        result = run_study(spec, default_runner(spec), target, err)
        for table in result.report.tables:
            out.print(table.to_rich())
        err.print(f"Cells run: {result.ran}, resumed: {result.skipped}; reports in "
                  f"{result.run_dir} (report.md, results.json, results.csv, summary.csv, "
                  f"{len(result.report.plots)} figures)", highlight=False)

    command.__doc__ = STUDIES[name].summary
    return command


for _name in STUDIES:
    experiment_app.command(
        _name, epilog="Settings and defaults (--set key=value, lists comma-separated, or the "
        f"same keys in a --config file): {settings_help(_name)}")(_command(_name))
