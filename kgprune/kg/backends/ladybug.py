"""The embedded default store: LadybugDB in one local file, loaded through its bulk `COPY FROM`.

`COPY FROM` loads hundreds of thousands of rows a second where `UNWIND ... MERGE` manages hundreds,
so a write streams the new rows (anti-joined against keys already present) into files and copies
them. Writes build a new file beside the store and rename it into place (`ladybug_build`): readers
open the store read-only, keep working during a load, and see the old graph or the whole new one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

import ladybug

from kgprune.errors import BackendError, BackendUnavailableError, Errors
from kgprune.kg.backends.ladybug_build import BuildSession, build_aside
from kgprune.kg.backends.ladybug_copy import CopyGroup
from kgprune.kg.coverage import FULL_VIEW, CoverageView, stable_hash64, stable_unit
from kgprune.kg.cypher import ladybug as q
from kgprune.kg.records import (
    Concept,
    Fact,
    Image,
    ObjectInstance,
    ObjectRelation,
    assertion_uri,
)
from kgprune.kg.relations import check_relation
from kgprune.kg.sampling import resolve_view
from kgprune.kg.store import GraphBatch, GraphStats, WriteCounts, check_hops

FETCH_BATCH = 10_000
T = TypeVar("T")
# The buffer pool: a share of the memory available when the store opens, within bounds, so a
# full-dump load keeps its memory flat. KGPRUNE_LADYBUG_BUFFER_MB overrides it.
POOL_SHARE = 0.25
MIN_POOL_MB, MAX_POOL_MB = 512, 1536
# Rows per COPY statement of the streaming writer; each COPY commits inside the private build.
COPY_CHUNK_ROWS = 250_000
# Pool a bulk COPY needs per fact row (provenance aside): 3.4M rows copied in one 640 MiB pool,
# not in 512 MiB; 2.4M rows then 1.0M more copied in 512 MiB.
COPY_POOL_BYTES_PER_ROW = 224


def _available_mb() -> int:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError):
        return 4096


def buffer_pool_bytes() -> int:
    override = os.environ.get("KGPRUNE_LADYBUG_BUFFER_MB")
    mb = int(override) if override else min(MAX_POOL_MB, max(MIN_POOL_MB,
                                                            int(_available_mb() * POOL_SHARE)))
    return mb * 2**20


def _listed(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as Cypher takes them: a view's edge set as a sorted list."""
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in params.items()}


class FactRow(NamedTuple):
    """A fact as `FACT` holds it; its text provenance is looked up by `key` once a read is done."""

    head: str
    relation: str
    tail: str
    weight: float
    source: str
    edge_id: str
    predicate: str
    key: int


def _fact_row(row: Sequence[Any]) -> FactRow:
    head, relation, tail, weight, source, edge_id, predicate, key = row
    return FactRow(head, relation, tail, weight, source,
                   edge_id or assertion_uri(relation, head, tail), predicate or "", key)


def _fact(row: FactRow, provenance: tuple[str | None, str | None, str | None] | None) -> Fact:
    dataset, surface, contributors = provenance or (None, None, None)
    return Fact(
        head=row.head,
        relation=row.relation,
        tail=row.tail,
        weight=row.weight,
        source=row.source,
        dataset=dataset or "",
        edge_id=row.edge_id,
        surface_text=surface or "",
        contributors=tuple(json.loads(contributors)) if contributors else (),
        predicate=row.predicate,
    )


def _joined_fact(row: Sequence[Any]) -> Fact:
    """A row of `ALL_FACTS_WITH_PROVENANCE`: the fact's columns, then its three texts."""
    return _fact(_fact_row(row[:-3]), (row[-3], row[-2], row[-1]))


def _bare_fact(row: Sequence[Any]) -> Fact:
    return _fact(_fact_row(row), None)


def _by_weight(rows: Iterable[FactRow]) -> list[FactRow]:
    return sorted(rows, key=lambda f: (-f.weight, f.edge_id))


def _concept_from_row(row: Sequence[Any]) -> Concept:
    uri, name, lang, pos, source = row
    return Concept(uri=uri, name=name, lang=lang, pos=pos or "", source=source)


def _batched(
    rows: Iterator[list[Any]], convert: Callable[[list[Any]], T], size: int
) -> Iterator[list[T]]:
    batch: list[T] = []
    for row in rows:
        batch.append(convert(row))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _list_literal(values: Sequence[str]) -> str:
    """A STRING[] cell: LadybugDB's `[a,b]` form, with JSON quoting so commas survive."""
    return "[" + ",".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"


class ParquetPart(Protocol):
    paths: Sequence[Path]
    rows: int


class ParquetTables(Protocol):
    """A staged graph that writes itself as Parquet files in the store's column order: concepts
    first, so the store can copy them while the facts are being written."""

    def write_concepts(self, directory: Path, *, existing: Path | None,
                       chunk_rows: int) -> ParquetPart: ...

    def write_facts(self, directory: Path, *, existing: Path | None,
                    chunk_rows: int) -> tuple[ParquetPart, ParquetPart]: ...


def _existing(session: BuildSession, statement: str) -> set[Any]:
    return {row[0] for row in session.read(statement)}


def _export_keys(session: BuildSession, count: str, export: str, name: str) -> Path | None:
    """Keys already stored, as a Parquet file the staging engine anti-joins against."""
    found = session.read(count)
    if not found or not found[0][0]:
        return None
    path = session.workdir / f"existing-{name}.parquet"
    session.read(q.copy_to(export, str(path)))
    return path


class _Writer:
    """Streams a `GraphBatch` into a build session through CSV files and `COPY FROM`."""

    def __init__(self, session: BuildSession, chunk_rows: int) -> None:
        self._session = session
        self._chunk_rows = chunk_rows

    def _group(self, *tables: tuple[str, Sequence[str]]) -> CopyGroup:
        return CopyGroup(self._session.rows, self._session.workdir, tables,
                         chunk_rows=self._chunk_rows)

    def copy_all(self, batch: GraphBatch) -> WriteCounts:
        return WriteCounts(
            concepts=self._copy_concepts(batch.concepts),
            facts=self._copy_facts(batch.facts),
            images=self._copy_images(batch.images),
            objects=self._copy_objects(batch.objects),
            object_relations=self._copy_predicates(batch.object_relations),
        )

    def _copy_concepts(self, concepts: Iterable[Concept]) -> int:
        existing = _existing(self._session, q.EXISTING_CONCEPT_URIS)
        out = self._group(("Concept", q.CONCEPT_COLUMNS))
        for c in concepts:
            if c.uri not in existing:
                existing.add(c.uri)
                out.write(0, (c.uri, c.name, c.lang, c.pos, c.source, stable_unit(c.uri)))
                out.end_record()
        return out.finish()

    def _copy_facts(self, facts: Iterable[Fact]) -> int:
        # Only keys already stored are held: a batch's facts are unique by contract (the stagers
        # merge duplicates), and 3.4 M keys in a set would cost a quarter of a GB.
        existing = _existing(self._session, q.EXISTING_FACT_KEYS)
        out = self._group(("FACT", q.FACT_COLUMNS), ("Provenance", q.PROVENANCE_COLUMNS))
        for f in facts:
            key = stable_hash64(f.edge_id)
            if key in existing:
                continue
            check_relation(f.relation)
            out.write(0, (f.head, f.tail, f.relation, f.weight, f.source, f.edge_id, f.predicate,
                          key))
            if f.dataset or f.surface_text or f.contributors:
                out.write(1, (key, f.dataset, f.surface_text,
                              json.dumps(list(f.contributors), ensure_ascii=False)))
            out.end_record()
        return out.finish()

    def _copy_images(self, images: Iterable[Image]) -> int:
        existing = _existing(self._session, q.EXISTING_IMAGE_IDS)
        out = self._group(("Image", q.IMAGE_COLUMNS))
        for i in images:
            if i.image_id not in existing:
                existing.add(i.image_id)
                out.write(0, (i.image_id, i.url, i.width, i.height,
                              "" if i.coco_id is None else i.coco_id,
                              "" if i.flickr_id is None else i.flickr_id))
                out.end_record()
        return out.finish()

    def _copy_objects(self, objects: Iterable[ObjectInstance]) -> int:
        existing = _existing(self._session, q.EXISTING_OBJECT_IDS)
        out = self._group(("Object", q.OBJECT_COLUMNS), ("IN_IMAGE", q.IN_IMAGE_COLUMNS),
                          ("INSTANCE_OF", q.INSTANCE_OF_COLUMNS))
        for o in objects:
            if o.object_id in existing:
                continue
            existing.add(o.object_id)
            out.write(0, (o.object_id, o.image_id, o.name, _list_literal(o.synsets),
                          _list_literal(o.attributes), o.x, o.y, o.w, o.h))
            out.write(1, (o.object_id, o.image_id))
            if o.concept:
                out.write(2, (o.object_id, o.concept))
            out.end_record()
        return out.finish()

    def _copy_predicates(self, relations: Iterable[ObjectRelation]) -> int:
        existing = _existing(self._session, q.EXISTING_PREDICATE_IDS)
        out = self._group(("PREDICATE", q.PREDICATE_COLUMNS))
        for r in relations:
            if r.relationship_id not in existing:
                existing.add(r.relationship_id)
                out.write(0, (r.subject_id, r.object_id, r.relationship_id, r.predicate))
                out.end_record()
        return out.finish()


def _create_schema(session: BuildSession) -> WriteCounts:
    """Tables missing are added; a schema-1 store's provenance moves to its own table."""
    for statement in q.SCHEMA:
        session.rows(statement)
    if "dataset" in {row[0] for row in session.rows(q.FACT_PROPERTIES)}:
        for statement in q.MIGRATE_1_TO_2:
            session.rows(statement)
    session.rows(q.SET_META, {"key": "schema_version", "value": q.SCHEMA_VERSION})
    return WriteCounts()


class LadybugStore:
    """`GraphStore` over an embedded LadybugDB database file, read-only between writes."""

    def __init__(self, path: Path, *, copy_chunk_rows: int = COPY_CHUNK_ROWS) -> None:
        self.path = path
        self.url = f"ladybug://{path}"
        self.copy_chunk_rows = copy_chunk_rows
        self._pool = buffer_pool_bytes()
        if not path.exists():
            self._build(_create_schema, reopen=False)
        self._open()

    @classmethod
    def from_url(cls, url: str) -> LadybugStore:
        parts = urlsplit(url)
        return cls(Path(unquote(parts.netloc + parts.path)).expanduser().resolve())

    def _open(self) -> None:
        try:
            self._db = ladybug.Database(str(self.path), read_only=True,
                                        buffer_pool_size=self._pool)
            self._conn = ladybug.Connection(self._db)
        except (RuntimeError, OSError) as e:
            raise BackendUnavailableError(Errors.K011.format(path=self.path, reason=e)) from e

    def _build(self, fill: Callable[[BuildSession], WriteCounts], *,
               reopen: bool = True) -> WriteCounts:
        """Run `fill` on a private copy of the store; swap it in if it changed anything."""
        with build_aside(self.path, self._pool) as session:
            counts = fill(session)
            if counts.total:
                session.rows(q.SET_META, {"key": "version", "value": os.urandom(16).hex()})
        if session.wrote and reopen:
            self.close()
            self._open()
        return counts

    def _rows(self, statement: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        try:
            return self._conn.execute(statement, params or {}).get_all()
        except RuntimeError as e:
            raise BackendError(Errors.K012.format(reason=e)) from e

    def _stream(self, statement: str, params: dict[str, Any] | None = None) -> Iterator[list[Any]]:
        try:
            result = self._conn.execute(statement, params or {})
            while result.has_next():
                yield result.get_next()
        except RuntimeError as e:
            raise BackendError(Errors.K012.format(reason=e)) from e

    def ensure_schema(self) -> None:
        """A store of an older kgprune is brought up to date through a build."""
        tables = {row[0] for row in self._rows(q.SHOW_TABLES)}
        if not set(q.TABLES) <= tables or self._meta("schema_version") != q.SCHEMA_VERSION:
            self._build(_create_schema)

    def _meta(self, key: str) -> str:
        rows = self._rows(q.GET_META, {"key": key})
        return rows[0][0] if rows else ""

    def version(self) -> str:
        return self._meta("version")

    def write(self, batch: GraphBatch) -> WriteCounts:
        """All or nothing: readers see the old graph until the whole batch is in."""
        return self._build(lambda session: _Writer(session, self.copy_chunk_rows).copy_all(batch))

    def bulk_load(self, tables: ParquetTables) -> WriteCounts:
        """Copy staged Parquet tables in, new keys only: one `COPY` per table and per chunk of
        what the buffer pool holds."""
        chunk_rows = max(1, self._pool // COPY_POOL_BYTES_PER_ROW)

        def copy(session: BuildSession, table: str, paths: Sequence[Path]) -> None:
            for path in paths:
                session.rows(q.copy_from_parquet(table, str(path)))

        def fill(session: BuildSession) -> WriteCounts:
            existing_concepts = _export_keys(session, q.COUNT_CONCEPTS, q.EXPORT_CONCEPT_URIS,
                                             "concepts")
            existing_facts = _export_keys(session, q.COUNT_FACTS, q.EXPORT_FACT_KEYS, "facts")
            concepts = tables.write_concepts(session.workdir, existing=existing_concepts,
                                             chunk_rows=chunk_rows)
            # The concept `COPY` runs on one core: the facts are hashed and written beside it.
            with ThreadPoolExecutor(max_workers=1) as copier:
                copying = copier.submit(copy, session, "Concept", concepts.paths)
                facts, provenance = tables.write_facts(session.workdir, existing=existing_facts,
                                                       chunk_rows=chunk_rows)
                copying.result()
            copy(session, "FACT", facts.paths)
            copy(session, "Provenance", provenance.paths)
            return WriteCounts(concepts=concepts.rows, facts=facts.rows)

        return self._build(fill)

    def _view(self, view: CoverageView) -> tuple[q.ViewParts, dict[str, Any]]:
        """The view clauses a read needs, and their parameters."""
        vf = resolve_view(self, view)
        parts: set[str] = set()
        params: dict[str, Any] = {}
        if vf.fact_level < 1.0:
            parts.add("fact")
            params["fact_level"] = vf.fact_level
        if any(level < 1.0 for level in vf.relation_levels.values()):
            parts.add("relation")
            params["rel_names"] = list(vf.relation_levels)
            params["rel_levels"] = list(vf.relation_levels.values())
        if vf.concept_level < 1.0:
            parts.add("concept")
            params["concept_level"] = vf.concept_level
        if parts:
            params["cov_shift"] = vf.shift
        if vf.source:
            parts.add("source")
            params["source"] = vf.source
        if vf.edge_ids is not None:
            parts.add("edges")
            params["edge_ids"] = vf.edge_ids  # a set: `_fact_rows` tests it, `_listed` sends it
        return frozenset(parts), params

    def _fact_rows(self, anchor: str, params: dict[str, Any],
                   resolved: tuple[q.ViewParts, dict[str, Any]], *,
                   relations: Sequence[str] | None = None,
                   limit: int | None = None) -> list[FactRow]:
        """Facts of one anchored query; `resolved` is `self._view(view)`, resolved once per read."""
        parts, view_params = resolved
        if relations:
            params = {**params, "relations": [check_relation(r) for r in relations]}
        if "edges" not in parts:
            statement = q.fact_query(anchor, relations=bool(relations), parts=parts, limit=limit)
            return [_fact_row(row) for row in self._rows(statement, {**params, **view_params})]
        # A sampled edge set is kept here, not sent: the driver types every element of a list
        # parameter on every call, which cost more than the query itself.
        edges = view_params["edge_ids"]
        rest = {k: v for k, v in view_params.items() if k != "edge_ids"}
        statement = q.fact_query(anchor, relations=bool(relations), parts=parts - {"edges"},
                                 limit=None)
        rows = [f for f in map(_fact_row, self._rows(statement, {**params, **rest}))
                if f.edge_id in edges]
        return rows if limit is None else _by_weight(rows)[:limit]

    def _with_provenance(self, rows: Sequence[FactRow]) -> list[Fact]:
        """The facts of a finished read, their text provenance looked up in one query."""
        if not rows:
            return []
        found = {key: (dataset, surface, contributors) for key, dataset, surface, contributors
                 in self._rows(q.GET_PROVENANCE, {"keys": [r.key for r in rows]})}
        return [_fact(r, found.get(r.key)) for r in rows]

    def stats(self, view: CoverageView = FULL_VIEW) -> GraphStats:
        parts, params = self._view(view)
        if view.is_full:
            concepts = self._rows(q.COUNT_CONCEPTS)[0][0]
        else:
            concepts = self._rows(q.count_concepts_in_view(parts), _listed(params))[0][0]
        by_relation = dict(self._rows(q.count_query("relation", parts), _listed(params)))
        return GraphStats(
            concepts=concepts,
            facts=sum(by_relation.values()),
            by_relation=by_relation,
            by_source=dict(self._rows(q.count_query("source", parts), _listed(params))),
            images=self._rows(q.COUNT_IMAGES)[0][0],
            objects=self._rows(q.COUNT_OBJECTS)[0][0],
            object_relations=self._rows(q.COUNT_PREDICATES)[0][0],
        )

    def _best(self, anchors: tuple[str, str], params: dict[str, Any],
              relations: Sequence[str] | None, limit: int, view: CoverageView) -> list[FactRow]:
        """Best facts over both directions: one query each, merged."""
        resolved = self._view(view)
        found = [f for anchor in anchors
                 for f in self._fact_rows(anchor, params, resolved, relations=relations,
                                          limit=limit)]
        return _by_weight({f.edge_id: f for f in found}.values())[:limit]

    def neighbors(
        self,
        uri: str,
        *,
        relations: Sequence[str] | None = None,
        hops: int = 1,
        limit: int = 100,
        view: CoverageView = FULL_VIEW,
    ) -> list[Fact]:
        check_hops(hops)
        first = self._best(("head", "tail"), {"uri": uri}, relations, limit, view)
        if hops == 1 or len(first) >= limit:
            return self._with_provenance(first)
        frontier = sorted({end for f in first for end in (f.head, f.tail)} - {uri})
        if not frontier:
            return self._with_provenance(first)
        seen = {f.edge_id for f in first}
        second = self._best(("via_head", "via_tail"), {"uri": uri, "uris": frontier}, relations,
                            limit, view)
        return self._with_provenance(
            first + [f for f in second if f.edge_id not in seen][: limit - len(first)])

    def facts_among(
        self,
        uris: Sequence[str],
        *,
        relations: Sequence[str] | None = None,
        limit: int = 1000,
        view: CoverageView = FULL_VIEW,
    ) -> list[Fact]:
        return self._with_provenance(self._fact_rows(
            "among", {"uris": list(dict.fromkeys(uris))}, self._view(view), relations=relations,
            limit=limit))

    def get_concepts(self, uris: Sequence[str]) -> list[Concept]:
        unique = list(dict.fromkeys(uris))
        return [_concept_from_row(r) for r in self._rows(q.GET_CONCEPTS, {"uris": unique})]

    def iter_concepts(
        self, *, batch_size: int = FETCH_BATCH, view: CoverageView = FULL_VIEW
    ) -> Iterator[list[Concept]]:
        if view.is_full:
            rows = self._stream(q.ALL_CONCEPTS)
        else:
            parts, params = self._view(view)
            rows = self._stream(q.concepts_in_view(parts), _listed(params))
        yield from _batched(rows, _concept_from_row, batch_size)

    def sample_facts(self, *, limit: int = 10, view: CoverageView = FULL_VIEW) -> list[Fact]:
        return self._with_provenance(self._fact_rows("all", {}, self._view(view), limit=limit))

    def iter_facts(self, *, batch_size: int = FETCH_BATCH,
                   provenance: bool = True) -> Iterator[list[Fact]]:
        if provenance:
            rows, convert = self._stream(q.ALL_FACTS_WITH_PROVENANCE), _joined_fact
        else:
            statement = q.fact_query("all", relations=False, parts=frozenset(), limit=None)
            rows, convert = self._stream(statement), _bare_fact
        yield from _batched(rows, convert, batch_size)

    def close(self) -> None:
        self._conn.close()
        self._db.close()

    def __enter__(self) -> LadybugStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
