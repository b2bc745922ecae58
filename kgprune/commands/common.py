"""What every command group shares: consoles, option types, progress bars, renderers.

On a terminal, rich tables fit the window and progress is animated on stderr. Anywhere else (a
pipe, a log file, a script) tables print at their full width, never cut to 80 columns, and there
are no progress frames: the log holds results, not spinner debris.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from kgprune import jsontext
from kgprune.kg.coverage import CoverageView
from kgprune.kg.loaders.conceptnet import ProgressFn
from kgprune.kg.records import Fact, LoadReport
from kgprune.kg.store import GraphStats, GraphStore

LOG_WIDTH = 100_000
"""Console width off a terminal: wide enough that no table is ever cut or wrapped."""


def _console(*, stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else LOG_WIDTH)


out = _console(stderr=False)
err = _console(stderr=True)

STORE_UNCHANGED = "interrupted; the store is unchanged"
RESUME = "interrupted; resume with the same command"
LOAD_WRITTEN = ("interrupted after some of the load was written; rerun the same command to finish "
                "it (what is already there is skipped)")
F = TypeVar("F", bound=Callable[..., Any])


class Interrupted(BaseException):
    """Ctrl-C in a command that says what it left behind; the CLI prints that and exits 130.

    A BaseException, like KeyboardInterrupt, so no `except Exception` on the way out catches it.
    """


@contextmanager
def interrupted_load(store: GraphStore) -> Iterator[None]:
    """Ctrl-C during a load says whether the store changed: a load commits at its end, so a
    Ctrl-C that lands in the commit finds the data written."""
    before = store.version()
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted(STORE_UNCHANGED if store.version() == before else LOAD_WRITTEN) from None


def interruptible(message: str) -> Callable[[F], F]:
    """Turn Ctrl-C in the decorated command into `Interrupted(message)`."""
    def wrap(command: F) -> F:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return command(*args, **kwargs)
            except KeyboardInterrupt:
                raise Interrupted(message) from None
        return run  # type: ignore[return-value]
    return wrap


StoreOpt = Annotated[str | None, typer.Option("--store", help="ladybug:///path or bolt://host:7687 "
                                              "(default: KGPRUNE_STORE or the embedded store)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")]
CoverageOpt = Annotated[float, typer.Option("--coverage", help="Coverage view level in [0, 1].")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Coverage view seed.")]
StrategyOpt = Annotated[str, typer.Option(
    "--strategy", help="Coverage sampling: edge, concept, relation, walk or source.")]
SourceOpt = Annotated[str, typer.Option(
    "--source", help="With --strategy source: conceptnet or visual_genome.")]
LambdaOpt = Annotated[float, typer.Option(
    "--lambda", "--lam", help="Weight λ of L_knowledge (--lam is a deprecated alias).")]


class CountColumn(ProgressColumn):
    """"done/total" once the total is known; nothing before (no "0/None")."""

    def render(self, task: Task) -> Text:
        return Text("" if task.total is None else f"{int(task.completed)}/{int(task.total)}")


def view_of(coverage: float, seed: int, strategy: str = "edge", source: str = "") -> CoverageView:
    return CoverageView(coverage, seed, strategy, source)  # type: ignore[arg-type]


def json_ready(data: Any) -> Any:
    """`data` with paths (and other non-JSON leaves) as strings and non-finite floats as null:
    the one JSON convention of every `--json` output."""
    if isinstance(data, dict):
        return {str(k): json_ready(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [json_ready(v) for v in data]
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if data is None or isinstance(data, (bool, int, str)):
        return data
    return str(data)


def print_json(data: Any) -> None:
    """Strict JSON on stdout (no NaN or Infinity): coloured on a terminal, plain elsewhere."""
    text = jsontext.dumps(json_ready(data), indent=None if out.is_terminal else 1)
    if out.is_terminal:
        out.print_json(text)
    else:
        sys.stdout.write(text + "\n")


def status(text: str) -> AbstractContextManager[Any]:
    """A spinner on stderr on a terminal; nothing elsewhere."""
    return err.status(text) if err.is_terminal else nullcontext()


def live_progress(*columns: Any) -> Progress:
    """A transient rich progress display on stderr, disabled off a terminal."""
    return Progress(*columns, console=err, transient=True, disable=not err.is_terminal)


@contextmanager
def progress_bar(description: str, *, unit_bytes: bool = True) -> Iterator[ProgressFn]:
    """A transient rich bar on stderr (none off a terminal); the callback takes (done, total)."""
    columns = [TextColumn("{task.description}"), BarColumn()]
    columns += [DownloadColumn()] if unit_bytes else [CountColumn()]
    with live_progress(*columns, TimeRemainingColumn()) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def print_report(report: LoadReport, as_json: bool) -> None:
    if as_json:
        print_json(asdict(report))
        return
    table = Table(title=f"Loaded {report.source}", caption=report.path, show_header=False)
    for key in ("lines_read", "facts_parsed", "duplicates_merged", "concepts_added",
                "facts_added", "images_added", "objects_added", "object_relations_added"):
        table.add_row(key.replace("_", " "), f"{getattr(report, key):,}")
    for reason, count in sorted(report.skipped.items()):
        table.add_row(f"skipped: {reason.replace('_', ' ')}", f"{count:,}")
    out.print(table)
    for line in report.bad_lines:
        err.print(f"[yellow]bad line[/] {line}", highlight=False)


def stats_table(stats: GraphStats, title: str) -> Table:
    table = Table(title=title)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in ("concepts", "facts", "images", "objects", "object_relations"):
        table.add_row(key.replace("_", " "), f"{getattr(stats, key):,}")
    for source, n in sorted(stats.by_source.items()):
        table.add_row(f"facts from {source}", f"{n:,}")
    for relation, n in sorted(stats.by_relation.items(), key=lambda kv: -kv[1]):
        table.add_row(f"  {relation}", f"{n:,}")
    return table


def facts_table(facts: list[Fact], title: str, *,
                hops: dict[str, int] | None = None) -> Table:
    """Facts as rows; with `hops` (edge id -> 1 or 2) a first column says each fact's hop."""
    table = Table(title=title)
    columns = ("hop",) * (hops is not None) + ("head", "relation", "tail", "weight", "source")
    for column in columns:
        table.add_column(column, justify="right" if column in ("weight", "hop") else "left")
    for f in facts:
        hop = (str(hops[f.edge_id]),) if hops is not None else ()
        table.add_row(*hop, f.head, f.relation, f.tail, f"{f.weight:g}", f.source)
    return table


def fact_json(f: Fact) -> dict[str, object]:
    return {"head": f.head, "relation": f.relation, "tail": f.tail, "weight": f.weight,
            "source": f.source, "edge_id": f.edge_id, "surface_text": f.surface_text,
            "predicate": f.predicate}


def view_table(comparison: dict[str, Any]) -> Table:
    view = comparison["view"]
    title = (f"Coverage view: {view['strategy']} {view['level']:.0%} seed {view['seed']}"
             + (f" ({view['source']})" if view["source"] else ""))
    table = Table(title=title)
    for column in ("what", "view", "full", "share"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for row in comparison["rows"]:
        table.add_row(row["what"], f"{row['view']:,}", f"{row['full']:,}", f"{row['share']:.1%}")
    return table
