"""The embedded default store: LadybugDB in one local file, loaded through its bulk `COPY FROM`.

`COPY FROM` loads hundreds of thousands of rows a second where `UNWIND ... MERGE` manages hundreds,
so a write streams the new rows (anti-joined against keys already present) into CSV files and copies
them, all inside one transaction: a killed load leaves the store as it was, and a re-run adds only
what is missing.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import ladybug

from kgprune.errors import BackendError, BackendUnavailableError, Errors
from kgprune.kg.backends.ladybug_copy import CopyGroup
from kgprune.kg.coverage import FULL_VIEW, CoverageView, stable_hash64, stable_unit
from kgprune.kg.cypher import ladybug as q
from kgprune.kg.records import Concept, Fact, Image, ObjectInstance, ObjectRelation
from kgprune.kg.relations import check_relation
from kgprune.kg.sampling import resolve_view
from kgprune.kg.store import GraphBatch, GraphStats, WriteCounts, check_hops

FETCH_BATCH = 10_000
T = TypeVar("T")
# LadybugDB's buffer pool defaults to ~80% of RAM; a bounded pool keeps a full-dump load's memory
# flat (pages beyond it spill to disk). KGPRUNE_LADYBUG_BUFFER_MB overrides it.
DEFAULT_BUFFER_MB = 512
# Rows per write transaction: what the default pool holds comfortably for wide fact rows.
COPY_CHUNK_ROWS = 250_000


def _buffer_pool_bytes() -> int:
    return int(os.environ.get("KGPRUNE_LADYBUG_BUFFER_MB", DEFAULT_BUFFER_MB)) * 2**20


def _listed(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as Cypher takes them: a view's edge set as a sorted list."""
    return {k: sorted(v) if isinstance(v, frozenset) else v for k, v in params.items()}


def _fact_from_row(row: Sequence[Any]) -> Fact:
    head, relation, tail, weight, source, dataset, edge_id, surface, contributors, predicate = row
    return Fact(
        head=head,
        relation=relation,
        tail=tail,
        weight=weight,
        source=source,
        dataset=dataset or "",
        edge_id=edge_id,
        surface_text=surface or "",
        contributors=tuple(json.loads(contributors)) if contributors else (),
        predicate=predicate or "",
    )


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


class LadybugStore:
    """`GraphStore` over an embedded LadybugDB database file."""

    def __init__(self, path: Path, *, copy_chunk_rows: int = COPY_CHUNK_ROWS) -> None:
        self.path = path
        self.url = f"ladybug://{path}"
        self.copy_chunk_rows = copy_chunk_rows
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = ladybug.Database(str(path), buffer_pool_size=_buffer_pool_bytes())
            self._conn = ladybug.Connection(self._db)
        except (RuntimeError, OSError) as e:
            raise BackendUnavailableError(Errors.K011.format(path=path, reason=e)) from e

    @classmethod
    def from_url(cls, url: str) -> LadybugStore:
        parts = urlsplit(url)
        return cls(Path(unquote(parts.netloc + parts.path)).expanduser().resolve())

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
        for statement in q.SCHEMA:
            self._rows(statement)
        stored = self._meta("schema_version")
        if not stored:
            self._rows(q.SET_META, {"key": "schema_version", "value": q.SCHEMA_VERSION})

    def _meta(self, key: str) -> str:
        rows = self._rows(q.GET_META, {"key": key})
        return rows[0][0] if rows else ""

    def version(self) -> str:
        return self._meta("version")

    def write(self, batch: GraphBatch) -> WriteCounts:
        """Up to `copy_chunk_rows` rows per table this is one transaction: all or nothing.

        Larger writes commit every chunk so memory stays bounded; each transaction stamps a new
        version first, so a write killed after some chunks is never mistaken for the old graph,
        and re-running it adds exactly the missing rows.
        """
        with tempfile.TemporaryDirectory(prefix="kgprune-copy-", dir=self.path.parent) as tmp:
            self._begin()
            try:
                counts = self._copy_all(batch, Path(tmp))
                self._rows(q.COMMIT if counts.total else q.ROLLBACK)
            except BaseException:
                self._rollback_open_transaction()
                raise
        return counts

    def _begin(self) -> None:
        self._rows(q.BEGIN)
        self._rows(q.SET_META, {"key": "version", "value": uuid.uuid4().hex})

    def _next_chunk(self) -> None:
        self._rows(q.COMMIT)
        self._begin()

    def _rollback_open_transaction(self) -> None:
        """A failed COPY may already have rolled back; a second ROLLBACK must not hide its error."""
        try:
            self._rows(q.ROLLBACK)
        except BackendError as e:
            if "No active transaction" not in str(e):
                raise

    def _group(self, tmp: Path, *tables: tuple[str, Sequence[str]]) -> CopyGroup:
        return CopyGroup(self._rows, tmp, tables, chunk_rows=self.copy_chunk_rows,
                         on_chunk=self._next_chunk)

    def _existing(self, statement: str) -> set[Any]:
        return {row[0] for row in self._stream(statement)}

    def _copy_all(self, batch: GraphBatch, tmp: Path) -> WriteCounts:
        return WriteCounts(
            concepts=self._copy_concepts(batch.concepts, tmp),
            facts=self._copy_facts(batch.facts, tmp),
            images=self._copy_images(batch.images, tmp),
            objects=self._copy_objects(batch.objects, tmp),
            object_relations=self._copy_predicates(batch.object_relations, tmp),
        )

    def _copy_concepts(self, concepts: Iterable[Concept], tmp: Path) -> int:
        existing = self._existing(q.EXISTING_CONCEPT_URIS)
        out = self._group(tmp, ("Concept", q.CONCEPT_COLUMNS))
        for c in concepts:
            if c.uri not in existing:
                existing.add(c.uri)
                out.write(0, (c.uri, c.name, c.lang, c.pos, c.source, stable_unit(c.uri)))
                out.end_record()
        return out.finish()

    def _copy_facts(self, facts: Iterable[Fact], tmp: Path) -> int:
        # Only keys already stored are held: a batch's facts are unique by contract (the stagers
        # merge duplicates), and 3.4 M keys in a set would cost a quarter of a GB.
        existing = self._existing(q.EXISTING_FACT_KEYS)
        out = self._group(tmp, ("FACT", q.FACT_COLUMNS))
        for f in facts:
            key = stable_hash64(f.edge_id)
            if key in existing:
                continue
            check_relation(f.relation)
            out.write(0, (
                f.head, f.tail, f.relation, f.weight, f.source, f.dataset, f.edge_id,
                f.surface_text, json.dumps(list(f.contributors), ensure_ascii=False),
                f.predicate, stable_unit(f.edge_id), key,
            ))
            out.end_record()
        return out.finish()

    def _copy_images(self, images: Iterable[Image], tmp: Path) -> int:
        existing = self._existing(q.EXISTING_IMAGE_IDS)
        out = self._group(tmp, ("Image", q.IMAGE_COLUMNS))
        for i in images:
            if i.image_id not in existing:
                existing.add(i.image_id)
                out.write(0, (i.image_id, i.url, i.width, i.height,
                              "" if i.coco_id is None else i.coco_id,
                              "" if i.flickr_id is None else i.flickr_id))
                out.end_record()
        return out.finish()

    def _copy_objects(self, objects: Iterable[ObjectInstance], tmp: Path) -> int:
        existing = self._existing(q.EXISTING_OBJECT_IDS)
        out = self._group(tmp, ("Object", q.OBJECT_COLUMNS), ("IN_IMAGE", q.IN_IMAGE_COLUMNS),
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

    def _copy_predicates(self, relations: Iterable[ObjectRelation], tmp: Path) -> int:
        existing = self._existing(q.EXISTING_PREDICATE_IDS)
        out = self._group(tmp, ("PREDICATE", q.PREDICATE_COLUMNS))
        for r in relations:
            if r.relationship_id not in existing:
                existing.add(r.relationship_id)
                out.write(0, (r.subject_id, r.object_id, r.relationship_id, r.predicate))
                out.end_record()
        return out.finish()

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
                   relations: Sequence[str] | None = None, limit: int | None = None) -> list[Fact]:
        """Facts of one anchored query; `resolved` is `self._view(view)`, resolved once per read."""
        parts, view_params = resolved
        if relations:
            params = {**params, "relations": [check_relation(r) for r in relations]}
        if "edges" not in parts:
            statement = q.fact_query(anchor, relations=bool(relations), parts=parts, limit=limit)
            return [_fact_from_row(row) for row in self._rows(statement, {**params, **view_params})]
        # A sampled edge set is kept here, not sent: the driver types every element of a list
        # parameter on every call, which cost more than the query itself.
        edges = view_params["edge_ids"]
        rest = {k: v for k, v in view_params.items() if k != "edge_ids"}
        statement = q.fact_query(anchor, relations=bool(relations), parts=parts - {"edges"},
                                 limit=None)
        facts = [f for f in map(_fact_from_row, self._rows(statement, {**params, **rest}))
                 if f.edge_id in edges]
        if limit is None:
            return facts
        return sorted(facts, key=lambda f: (-f.weight, f.edge_id))[:limit]

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
              relations: Sequence[str] | None, limit: int, view: CoverageView) -> list[Fact]:
        """Best facts over both directions: one query each, merged."""
        resolved = self._view(view)
        found = [f for anchor in anchors
                 for f in self._fact_rows(anchor, params, resolved, relations=relations,
                                          limit=limit)]
        unique = {f.edge_id: f for f in found}
        return sorted(unique.values(), key=lambda f: (-f.weight, f.edge_id))[:limit]

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
            return first
        frontier = sorted({end for f in first for end in (f.head, f.tail)} - {uri})
        if not frontier:
            return first
        seen = {f.edge_id for f in first}
        second = self._best(("via_head", "via_tail"), {"uri": uri, "uris": frontier}, relations,
                            limit, view)
        return first + [f for f in second if f.edge_id not in seen][: limit - len(first)]

    def facts_among(
        self,
        uris: Sequence[str],
        *,
        relations: Sequence[str] | None = None,
        limit: int = 1000,
        view: CoverageView = FULL_VIEW,
    ) -> list[Fact]:
        return self._fact_rows("among", {"uris": list(dict.fromkeys(uris))}, self._view(view),
                               relations=relations, limit=limit)

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
        return self._fact_rows("all", {}, self._view(view), limit=limit)

    def iter_facts(self, *, batch_size: int = FETCH_BATCH) -> Iterator[list[Fact]]:
        statement = q.fact_query("all", relations=False, parts=frozenset(), limit=None)
        yield from _batched(self._stream(statement), _fact_from_row, batch_size)

    def close(self) -> None:
        self._conn.close()
        self._db.close()

    def __enter__(self) -> LadybugStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
