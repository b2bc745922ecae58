"""The `kgprune` command line: parse arguments, call the library, render with rich.

Results go to stdout (`--json` prints pure JSON); progress and errors go to stderr. Every
`KgpruneError` becomes one line and exit code 1; a traceback only with KGPRUNE_DEBUG=1.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from kgprune.errors import KgpruneError
from kgprune.kg import bundled
from kgprune.kg.coverage import CoverageView
from kgprune.kg.ingest import export_conceptnet_neo4j_admin, load_conceptnet, load_visual_genome
from kgprune.kg.loaders.conceptnet import ProgressFn, parse_languages
from kgprune.kg.records import Fact, LoadReport
from kgprune.kg.store import GraphStats, default_store_url, open_store
from kgprune.kg.uri import concept_uri

app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False,
                  help="Knowledge-graph-guided structured pruning of multimodal models.")
kg_app = typer.Typer(no_args_is_help=True, help="Load and inspect the knowledge graph.")
load_app = typer.Typer(no_args_is_help=True, help="Load a knowledge source into a store.")
app.add_typer(kg_app, name="kg")
kg_app.add_typer(load_app, name="load")

out = Console()
err = Console(stderr=True)

StoreOpt = Annotated[str | None, typer.Option("--store", help="ladybug:///path or bolt://host:7687 "
                                              "(default: KGPRUNE_STORE or the embedded store)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON to stdout.")]
CoverageOpt = Annotated[float, typer.Option("--coverage", help="Coverage view level in [0, 1].")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Coverage view seed.")]


@contextmanager
def _progress(description: str) -> Iterator[ProgressFn]:
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _print_report(report: LoadReport, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(asdict(report)))
        return
    table = Table(title=f"Loaded {report.source} from {report.path}", show_header=False)
    for key in ("lines_read", "facts_parsed", "duplicates_merged", "concepts_added",
                "facts_added", "images_added", "objects_added", "object_relations_added"):
        table.add_row(key.replace("_", " "), f"{getattr(report, key):,}")
    for reason, count in sorted(report.skipped.items()):
        table.add_row(f"skipped: {reason.replace('_', ' ')}", f"{count:,}")
    out.print(table)
    for line in report.bad_lines:
        err.print(f"[yellow]bad line[/] {line}")


@load_app.command("conceptnet")
def load_conceptnet_cmd(
    path: Path,
    lang: Annotated[str, typer.Option(help="Languages to keep: en, en,de or all.")] = "en",
    skip_bad_lines: Annotated[bool, typer.Option(help="Skip malformed lines and report them.")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load ConceptNet assertions (.csv or .csv.gz) into a store."""
    langs = parse_languages(lang)
    with open_store(store) as s, _progress(f"ConceptNet {path.name}") as progress:
        report = load_conceptnet(s, path, langs=langs, skip_bad_lines=skip_bad_lines,
                                 on_progress=progress)
    _print_report(report, as_json)


@load_app.command("visual-genome")
def load_visual_genome_cmd(directory: Path, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Load a Visual Genome directory (image_data.json + objects/attributes/relationships.json)."""
    with open_store(store) as s, _progress(f"Visual Genome {directory.name}") as progress:
        report = load_visual_genome(s, directory, on_progress=progress)
    _print_report(report, as_json)


def _stats_table(stats: GraphStats, title: str) -> Table:
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


@kg_app.command("stats")
def stats_cmd(store: StoreOpt = None, coverage: CoverageOpt = 1.0, seed: SeedOpt = 0,
              as_json: JsonOpt = False) -> None:
    """Count concepts and facts, per relation and per source."""
    with open_store(store) as s:
        stats = s.stats(CoverageView(coverage, seed))
        url = s.url
    if as_json:
        out.print_json(json.dumps(asdict(stats)))
    else:
        out.print(_stats_table(stats, f"Knowledge graph at {url}"))


def _facts_table(facts: list[Fact], title: str) -> Table:
    table = Table(title=title)
    for column in ("head", "relation", "tail", "weight", "source"):
        table.add_column(column, justify="right" if column == "weight" else "left")
    for f in facts:
        table.add_row(f.head, f.relation, f.tail, f"{f.weight:g}", f.source)
    return table


def _fact_json(f: Fact) -> dict[str, object]:
    return {"head": f.head, "relation": f.relation, "tail": f.tail, "weight": f.weight,
            "source": f.source, "edge_id": f.edge_id, "surface_text": f.surface_text,
            "predicate": f.predicate}


@kg_app.command("neighbors")
def neighbors_cmd(
    term: Annotated[str, typer.Argument(help="A concept URI (/c/en/cup) or text (cup).")],
    relation: Annotated[list[str] | None, typer.Option("--relation", "-r")] = None,
    hops: Annotated[int, typer.Option(min=1, max=2)] = 1,
    limit: Annotated[int, typer.Option(min=1)] = 25,
    coverage: CoverageOpt = 1.0,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Facts around a concept (either direction), best first."""
    uri = term if term.startswith("/c/") else concept_uri(term)
    with open_store(store) as s:
        facts = s.neighbors(uri, relations=relation or None, hops=hops, limit=limit,
                            view=CoverageView(coverage, seed))
    if as_json:
        out.print_json(json.dumps([_fact_json(f) for f in facts]))
    else:
        out.print(_facts_table(facts, f"{uri}: {len(facts)} facts, {hops} hop(s)"))


@kg_app.command("export-neo4j-admin")
def export_neo4j_admin_cmd(
    directory: Path,
    conceptnet: Annotated[Path | None, typer.Option(help="ConceptNet .csv(.gz); default: bundled")] = None,
    lang: Annotated[str, typer.Option(help="Languages to keep: en, en,de or all.")] = "en",
) -> None:
    """Write CSVs + import.sh for `neo4j-admin database import full` (fast first loads)."""
    counts = export_conceptnet_neo4j_admin(conceptnet or bundled.conceptnet_path(), directory,
                                           langs=parse_languages(lang))
    out.print(f"Wrote {counts} to {directory}; run {directory / 'import.sh'} on the Neo4j host.")


@app.command("demo")
def demo_cmd(store: StoreOpt = None) -> None:
    """Load the bundled knowledge graph into the embedded store and show what it holds."""
    url = store or default_store_url()
    err.print(f"Store: {url}")
    with open_store(url) as s:
        with _progress("Loading the bundled knowledge graph"):
            reports = bundled.load_bundled(s)
        for report in reports:
            _print_report(report, as_json=False)
        out.print(_stats_table(s.stats(), "Knowledge graph"))
        out.print(_facts_table(s.sample_facts(limit=12), "Strongest facts"))
        for term in ("cup", "umbrella"):
            out.print(_facts_table(s.neighbors(concept_uri(term), limit=8), f"Around '{term}'"))


def main() -> None:
    try:
        app(standalone_mode=True)
    except KgpruneError as e:
        if os.environ.get("KGPRUNE_DEBUG") == "1":
            raise
        err.print(f"[red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(1)
