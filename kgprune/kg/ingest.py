"""Load dump files into a graph store: parse and stage everything, then write in one transaction.

Staging first is what keeps a store unchanged when line 3,000,000 turns out to be malformed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kgprune.kg.loaders.conceptnet import ProgressFn, iter_conceptnet
from kgprune.kg.loaders.visual_genome import stage_visual_genome
from kgprune.kg.records import SOURCE_CONCEPTNET, SOURCE_VISUAL_GENOME, LoadReport
from kgprune.kg.staging import ConceptStager, FactStager
from kgprune.kg.store import GraphBatch, GraphStore, WriteCounts

ENGLISH = frozenset({"en"})


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


def load_conceptnet(
    store: GraphStore,
    path: Path,
    *,
    langs: frozenset[str] | None = ENGLISH,
    skip_bad_lines: bool = False,
    on_progress: ProgressFn | None = None,
) -> LoadReport:
    report = LoadReport(source=SOURCE_CONCEPTNET, path=str(path))
    with stage_conceptnet(path, report, langs=langs, skip_bad_lines=skip_bad_lines,
                          on_progress=on_progress) as batch:
        counts = store.write(batch)
    return _record(report, counts)


def load_visual_genome(
    store: GraphStore, directory: Path, *, on_progress: ProgressFn | None = None
) -> LoadReport:
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
    with stage_conceptnet(path, report, langs=langs) as batch:
        return export_neo4j_admin(batch, out_dir)
