"""`kgprune kg ...`: load, inspect and export the knowledge graph."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from kgprune.commands.common import (
    STORE_UNCHANGED,
    CoverageOpt,
    JsonOpt,
    SeedOpt,
    SourceOpt,
    StoreOpt,
    StrategyOpt,
    err,
    fact_json,
    facts_table,
    interrupted_load,
    interruptible,
    out,
    print_json,
    print_report,
    progress_bar,
    stats_table,
    view_of,
    view_table,
)
from kgprune.errors import ConfigError, Errors
from kgprune.kg import bundled
from kgprune.kg.ingest import export_conceptnet_neo4j_admin, load_conceptnet, load_visual_genome
from kgprune.kg.loaders.conceptnet import parse_languages
from kgprune.kg.sampling import compare_view
from kgprune.kg.store import open_store
from kgprune.kg.uri import concept_uri

kg_app = typer.Typer(no_args_is_help=True, help="Load and inspect the knowledge graph.")
load_app = typer.Typer(no_args_is_help=True, help="Load a knowledge source into a store.")
kg_app.add_typer(load_app, name="load")

LangOpt = Annotated[str, typer.Option(help="Languages to keep: en, en,de or all.")]


@load_app.command("conceptnet")
@interruptible(STORE_UNCHANGED)
def load_conceptnet_cmd(
    path: Path,
    lang: LangOpt = "en",
    skip_bad_lines: Annotated[bool, typer.Option(help="Skip malformed lines and report them.")] = False,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Load ConceptNet assertions (.csv or .csv.gz) into a store."""
    langs = parse_languages(lang)
    with (open_store(store) as s, interrupted_load(s),
          progress_bar(f"ConceptNet {path.name}") as progress):
        report = load_conceptnet(s, path, langs=langs, skip_bad_lines=skip_bad_lines,
                                 on_progress=progress)
    print_report(report, as_json)


@load_app.command("visual-genome")
@interruptible(STORE_UNCHANGED)
def load_visual_genome_cmd(directory: Path, store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Load a Visual Genome directory (image_data.json + objects/attributes/relationships.json)."""
    with (open_store(store) as s, interrupted_load(s),
          progress_bar(f"Visual Genome {directory.name}") as progress):
        report = load_visual_genome(s, directory, on_progress=progress)
    print_report(report, as_json)


@load_app.command("bundled")
@interruptible(STORE_UNCHANGED)
def load_bundled_cmd(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Load the mini KG shipped with kgprune (ConceptNet + Visual Genome) into a store."""
    with (open_store(store) as s, interrupted_load(s),
          err.status("Loading the bundled knowledge graph")):
        reports = bundled.load_bundled(s)
    if as_json:
        print_json([asdict(r) for r in reports])
        return
    for report in reports:
        print_report(report, as_json=False)


@kg_app.command("stats")
def stats_cmd(store: StoreOpt = None, coverage: CoverageOpt = 1.0, seed: SeedOpt = 0,
              strategy: StrategyOpt = "edge", source: SourceOpt = "",
              as_json: JsonOpt = False) -> None:
    """Count concepts and facts, per relation and per source."""
    view = view_of(coverage, seed, strategy, source)
    with open_store(store) as s:
        stats = s.stats(view)
        url = s.url
    if as_json:
        print_json({**asdict(stats), "store": url, "view": view.to_dict()})
    else:
        out.print(stats_table(stats, f"Knowledge graph at {url}"))


@kg_app.command("neighbors")
def neighbors_cmd(
    term: Annotated[str, typer.Argument(help="A concept URI (/c/en/cup) or text (cup).")],
    relation: Annotated[list[str] | None, typer.Option("--relation", "-r")] = None,
    hops: Annotated[int, typer.Option(min=1, max=2)] = 1,
    limit: Annotated[int, typer.Option(min=1)] = 25,
    coverage: CoverageOpt = 1.0,
    seed: SeedOpt = 0,
    strategy: StrategyOpt = "edge",
    source: SourceOpt = "",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Facts around a concept (either direction), best first; hop 2 facts start at a neighbour.
    A term that is not a concept of the store is an error (K595, exit 1)."""
    uri = term if term.startswith("/c/") else concept_uri(term)
    view = view_of(coverage, seed, strategy, source)
    with open_store(store) as s:
        if not s.get_concepts([uri]):
            raise ConfigError(Errors.K595.format(term=term, uri=uri, store=s.url))
        facts = s.neighbors(uri, relations=relation or None, hops=hops, limit=limit, view=view)
        url = s.url
    hop = {f.edge_id: 1 if uri in (f.head, f.tail) else 2 for f in facts}
    if as_json:
        print_json({"store": url, "view": view.to_dict(), "term": term, "uri": uri,
                    "hops": hops, "facts": [fact_json(f) | {"hop": hop[f.edge_id]}
                                            for f in facts]})
        return
    if not facts:
        err.print(f"{uri} has no facts in this view{' for ' + ', '.join(relation) if relation else ''}.",
                  highlight=False)
    out.print(facts_table(facts, f"{uri}: {len(facts)} facts, {hops} hop(s)",
                          hops=hop if hops > 1 else None))


@kg_app.command("sample")
def sample_cmd(
    coverage: Annotated[float, typer.Option("--coverage", help="Share of the graph to keep.")],
    strategy: StrategyOpt = "edge",
    seed: SeedOpt = 0,
    source: SourceOpt = "",
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Statistics of a coverage view (a sampled subgraph) against the full graph."""
    view = view_of(coverage, seed, strategy, source)
    with open_store(store) as s:
        comparison = compare_view(s, view)
        sampled, full = s.stats(view), s.stats()
    if as_json:
        print_json({**asdict(sampled), "store": comparison["store"], "view": view.to_dict(),
                    "full": asdict(full)})
    else:
        out.print(view_table(comparison))


@kg_app.command("export-neo4j-admin")
def export_neo4j_admin_cmd(
    directory: Path,
    conceptnet: Annotated[Path | None, typer.Option(help="ConceptNet .csv(.gz); default: bundled")] = None,
    lang: LangOpt = "en",
    as_json: JsonOpt = False,
) -> None:
    """Write CSVs + import.sh for `neo4j-admin database import full` (fast first loads)."""
    counts = export_conceptnet_neo4j_admin(conceptnet or bundled.conceptnet_path(), directory,
                                           langs=parse_languages(lang))
    if as_json:
        print_json({"out": str(directory), "import_script": str(directory / "import.sh"),
                    "rows": counts})
        return
    written = ", ".join(f"{n:,} rows to {name}" for name, n in counts.items())
    out.print(f"Wrote {written} to {directory}; run {directory / 'import.sh'} on the Neo4j host.",
              highlight=False)
