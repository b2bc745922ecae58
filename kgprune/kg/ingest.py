"""Load dump files into a graph store: parse and stage everything, then write in one transaction.

Staging first is what keeps a store unchanged when line 3,000,000 turns out to be malformed.
ConceptNet is parsed by DuckDB (`conceptnet_columnar`); Visual Genome can be
(`visual_genome_columnar`, opt-in: not faster yet). The pure-Python loaders stay as the references
they are tested against, and decide the files DuckDB cannot read their way (raising their coded
errors).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from kgprune.kg.loaders.conceptnet import ProgressFn, iter_conceptnet
from kgprune.kg.loaders.conceptnet_columnar import (
    ColumnarConceptNet,
    FileNotSplittable,
    connect,
    parse_conceptnet,
)
from kgprune.kg.loaders.visual_genome import stage_visual_genome
from kgprune.kg.loaders.visual_genome_columnar import (
    ColumnarVisualGenome,
    NeedsReference,
    parse_visual_genome,
)
from kgprune.kg.records import SOURCE_CONCEPTNET, SOURCE_VISUAL_GENOME, LoadReport
from kgprune.kg.staging import ConceptStager, FactStager, stage_dir
from kgprune.kg.store import GraphBatch, GraphStore, WriteCounts

ENGLISH = frozenset({"en"})
Parser = Literal["duckdb", "python"]


@runtime_checkable
class BulkLoader(Protocol):
    """A store that copies staged Parquet tables in (the embedded store)."""

    def bulk_load(self, tables: ColumnarConceptNet) -> WriteCounts: ...


@contextmanager
def stage_conceptnet(
    path: Path,
    report: LoadReport,
    *,
    langs: frozenset[str] | None = ENGLISH,
    skip_bad_lines: bool = False,
    on_progress: ProgressFn | None = None,
) -> Iterator[GraphBatch]:
    """Parse a whole assertions file (errors surface here), then yield it de-duplicated."""
    concepts = ConceptStager()
    with FactStager() as facts:
        for edge in iter_conceptnet(path, langs=langs, report=report,
                                    skip_bad_lines=skip_bad_lines, on_progress=on_progress):
            concepts.add(edge.head)
            concepts.add(edge.tail)
            facts.add(edge.fact)
        yield GraphBatch(concepts=concepts, facts=facts)
        report.duplicates_merged = facts.duplicates_merged


def _record(report: LoadReport, counts: WriteCounts) -> LoadReport:
    report.concepts_added = counts.concepts
    report.facts_added = counts.facts
    report.images_added = counts.images
    report.objects_added = counts.objects
    report.object_relations_added = counts.object_relations
    return report


@contextmanager
def stage_conceptnet_columnar(
    path: Path,
    report: LoadReport,
    *,
    langs: frozenset[str] | None = ENGLISH,
    skip_bad_lines: bool = False,
    on_progress: ProgressFn | None = None,
) -> Iterator[ColumnarConceptNet | None]:
    """Parse a whole file with DuckDB; None when only the reference parser can split it."""
    with stage_dir() as workdir:
        con = connect(workdir)
        try:
            try:
                staged = parse_conceptnet(con, path, langs=langs, report=report,
                                          skip_bad_lines=skip_bad_lines, on_progress=on_progress)
            except FileNotSplittable:
                staged = None
            yield staged
        finally:
            con.close()


def _columnar_batch(staged: ColumnarConceptNet) -> GraphBatch:
    return GraphBatch(concepts=staged.iter_concepts(), facts=staged.iter_facts())


def load_conceptnet(
    store: GraphStore,
    path: Path,
    *,
    langs: frozenset[str] | None = ENGLISH,
    skip_bad_lines: bool = False,
    on_progress: ProgressFn | None = None,
    parser: Parser = "duckdb",
) -> LoadReport:
    """Parse a whole assertions file, then write it to the store all at once.

    The embedded store copies the engine's Parquet output in; other stores take its rows.
    """
    options = {"langs": langs, "skip_bad_lines": skip_bad_lines, "on_progress": on_progress}
    if parser == "duckdb":
        report = LoadReport(source=SOURCE_CONCEPTNET, path=str(path))
        with stage_conceptnet_columnar(path, report, **options) as staged:
            if staged is not None:
                if isinstance(store, BulkLoader):
                    counts = store.bulk_load(staged)
                else:
                    counts = store.write(_columnar_batch(staged))
                return _record(report, counts)
    report = LoadReport(source=SOURCE_CONCEPTNET, path=str(path))
    with stage_conceptnet(path, report, **options) as batch:
        counts = store.write(batch)
    return _record(report, counts)


@contextmanager
def stage_visual_genome_columnar(
    directory: Path, report: LoadReport, *, on_progress: ProgressFn | None = None
) -> Iterator[ColumnarVisualGenome | None]:
    """Stage a directory with DuckDB; None when the reference must decide (or raise) instead."""
    with stage_dir() as workdir:
        con = connect(workdir)
        try:
            try:
                staged = parse_visual_genome(con, directory, report=report,
                                             on_progress=on_progress)
            except NeedsReference:
                staged = None
            yield staged
        finally:
            con.close()


def load_visual_genome(
    store: GraphStore, directory: Path, *, on_progress: ProgressFn | None = None,
    parser: Parser = "python",
) -> LoadReport:
    """Stage a whole Visual Genome directory, then write it to the store all at once.

    `python` stays the default: the DuckDB path gives the same store but staged 30,000 images
    0.81x as fast, at 2.5x the peak memory (benchmarks/vg_load.py, README), since DuckDB's JSON
    functions re-parse each entry per call."""
    if parser == "duckdb":
        report = LoadReport(source=SOURCE_VISUAL_GENOME, path=str(directory))
        with stage_visual_genome_columnar(directory, report, on_progress=on_progress) as columnar:
            if columnar is not None:
                return _record(report, store.write(columnar.batch()))
    report = LoadReport(source=SOURCE_VISUAL_GENOME, path=str(directory))
    with stage_visual_genome(directory, report=report, on_progress=on_progress) as staged:
        counts = store.write(staged.batch())
    return _record(report, counts)


def export_conceptnet_neo4j_admin(
    path: Path, out_dir: Path, *, langs: frozenset[str] | None = ENGLISH
) -> dict[str, int]:
    """Stage an assertions file and write it as `neo4j-admin database import` CSVs."""
    from kgprune.kg.neo4j_admin import export_neo4j_admin

    report = LoadReport(source=SOURCE_CONCEPTNET, path=str(path))
    with stage_conceptnet_columnar(path, report, langs=langs) as staged:
        if staged is not None:
            return export_neo4j_admin(_columnar_batch(staged), out_dir)
    report = LoadReport(source=SOURCE_CONCEPTNET, path=str(path))
    with stage_conceptnet(path, report, langs=langs) as batch:
        return export_neo4j_admin(batch, out_dir)
