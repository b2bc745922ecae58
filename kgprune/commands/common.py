"""What every command group shares: consoles, option types, progress bars, renderers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from kgprune import jsontext
from kgprune.kg import bundled
from kgprune.kg.coverage import FULL_VIEW, CoverageView
from kgprune.kg.loaders.conceptnet import ProgressFn
from kgprune.kg.records import Fact, LoadReport
from kgprune.kg.retrieval import KnowledgeContext
from kgprune.kg.store import GraphStats, GraphStore, default_store_url, open_store
from kgprune.vqa.benchmark_run import default_benchmark, retrieve_contexts
from kgprune.vqa.datasets import VqaSample
from kgprune.vqa.layouts import open_benchmark

out = Console()
err = Console(stderr=True)

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


def view_of(coverage: float, seed: int, strategy: str = "edge", source: str = "") -> CoverageView:
    return CoverageView(coverage, seed, strategy, source)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class TrainingSplit:
    """A benchmark's training samples with knowledge retrieved for them, in an open store."""

    store: GraphStore
    url: str
    data_dir: Path
    samples: list[VqaSample]
    contexts: dict[str, KnowledgeContext]
    dataset: dict[str, Any]
    """The folder's layout, splits and where image objects came from (`Benchmark.record`)."""


@contextmanager
def training_split(store: str | None, data: Path | None,
                   view: CoverageView = FULL_VIEW) -> Iterator[TrainingSplit]:
    """Open `store` (the bundled KG in the default store when None), the benchmark `data` (the
    built-in one when None; a synthetic, OK-VQA or FVQA folder) and retrieve its training
    split's knowledge through `view`."""
    url = store or default_store_url()
    with open_store(url) as s:
        if store is None:
            with err.status("Loading the bundled knowledge graph"):
                bundled.load_if_home(s)
        data_dir = data or default_benchmark(s, seed=0)
        benchmark = open_benchmark(data_dir)
        samples = benchmark.split("train")
        with err.status(f"Retrieving knowledge for {len(samples)} questions"):
            contexts = retrieve_contexts(s, data_dir, samples, view=view)
        yield TrainingSplit(s, url, data_dir, samples, contexts, benchmark.record())


def print_json(data: Any) -> None:
    """Strict JSON on stdout: a NaN or infinite number prints as null."""
    out.print_json(jsontext.dumps(data), allow_nan=False)


@contextmanager
def progress_bar(description: str, *, unit_bytes: bool = True) -> Iterator[ProgressFn]:
    """A transient rich bar on stderr; the callback takes (done, total)."""
    columns = [TextColumn("{task.description}"), BarColumn()]
    columns += [DownloadColumn()] if unit_bytes else [TextColumn("{task.completed}/{task.total}")]
    with Progress(*columns, TimeRemainingColumn(), console=err, transient=True) as progress:
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


def facts_table(facts: list[Fact], title: str) -> Table:
    table = Table(title=title)
    for column in ("head", "relation", "tail", "weight", "source"):
        table.add_column(column, justify="right" if column == "weight" else "left")
    for f in facts:
        table.add_row(f.head, f.relation, f.tail, f"{f.weight:g}", f.source)
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
