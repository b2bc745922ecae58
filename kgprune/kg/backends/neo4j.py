"""The Neo4j 5 store: the official driver, one explicit transaction per write, batched `UNWIND`.

The driver is injected so unit tests pass a mock; `from_url` builds one from the environment.
Driver failures surface as coded kgprune errors; credentials never appear in a message.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from itertools import islice
from typing import Any, Self, TypeVar
from urllib.parse import unquote, urlsplit

import neo4j
from neo4j.exceptions import AuthError, DriverError, Neo4jError, ServiceUnavailable

from kgprune.errors import BackendError, BackendUnavailableError, ConfigError, Errors
from kgprune.kg.coverage import FULL_VIEW, CoverageView, stable_unit
from kgprune.kg.cypher import neo4j as q
from kgprune.kg.records import Concept, Fact, Image, ObjectInstance, ObjectRelation
from kgprune.kg.relations import ALL_RELATIONS, check_relation, neo4j_type, relation_from_neo4j_type
from kgprune.kg.sampling import resolve_view
from kgprune.kg.store import GraphBatch, GraphStats, WriteCounts, check_hops, redact_url

ROWS_PER_STATEMENT = 10_000
DEFAULT_DATABASE = "neo4j"
DEFAULT_USER = "neo4j"
CONNECT_TIMEOUT_S = 5.0
"""How long opening a store waits for the server; the driver's own default retries for 60 s."""

T = TypeVar("T")
Row = dict[str, Any]


def _one_line(error: Exception) -> str:
    """The driver's message on one line: a coded error is one line of the CLI's stderr."""
    return " ".join(str(error).split())


def _rel_types(relations: Sequence[str] | None) -> list[str]:
    """Relationship types to read; raises on a name outside the vocabulary before any query."""
    return [neo4j_type(r) for r in (relations if relations is not None else ALL_RELATIONS)]


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _grouped_chunks(
    items: Iterable[T], key: Callable[[T], str], size: int
) -> Iterator[tuple[str, list[T]]]:
    """Chunks of items sharing a key, streamed: at most one partial chunk per key is held."""
    pending: dict[str, list[T]] = {}
    for item in items:
        name = key(item)
        group = pending.setdefault(name, [])
        group.append(item)
        if len(group) == size:
            yield name, pending.pop(name)
    yield from pending.items()


def _concept_row(c: Concept) -> Row:
    return {"uri": c.uri, "name": c.name, "lang": c.lang, "pos": c.pos, "source": c.source,
            "cov": stable_unit(c.uri)}


def _fact_row(f: Fact) -> Row:
    return {
        "head": f.head, "tail": f.tail, "edge_id": f.edge_id, "weight": f.weight,
        "source": f.source, "dataset": f.dataset, "surface_text": f.surface_text,
        "contributors": json.dumps(list(f.contributors), ensure_ascii=False),
        "predicate": f.predicate, "cov": stable_unit(f.edge_id),
    }


def _image_row(i: Image) -> Row:
    return {"image_id": i.image_id, "url": i.url, "width": i.width, "height": i.height,
            "coco_id": i.coco_id, "flickr_id": i.flickr_id}


def _object_row(o: ObjectInstance) -> Row:
    return {
        "object_id": o.object_id, "image_id": o.image_id, "name": o.name, "concept": o.concept,
        "synsets": list(o.synsets), "attributes": list(o.attributes),
        "x": o.x, "y": o.y, "w": o.w, "h": o.h,
    }


def _object_relation_row(r: ObjectRelation) -> Row:
    return {"relationship_id": r.relationship_id, "subject_id": r.subject_id,
            "object_id": r.object_id, "predicate": r.predicate}


def _fact(record: Any) -> Fact:
    return Fact(
        head=record["head"],
        relation=relation_from_neo4j_type(record["rel_type"]),
        tail=record["tail"],
        weight=record["weight"],
        source=record["source"],
        dataset=record["dataset"] or "",
        edge_id=record["edge_id"],
        surface_text=record["surface_text"] or "",
        contributors=tuple(json.loads(record["contributors"] or "[]")),
        predicate=record["predicate"] or "",
    )


def _concept(record: Any) -> Concept:
    return Concept(uri=record["uri"], name=record["name"], lang=record["lang"],
                   pos=record["pos"] or "", source=record["source"])


class Neo4jStore:
    """`GraphStore` over a Neo4j 5 database reached through an injected `neo4j.Driver`."""

    def __init__(
        self,
        driver: neo4j.Driver,
        database: str = DEFAULT_DATABASE,
        *,
        url: str = "bolt://localhost:7687",
        user: str = DEFAULT_USER,
    ) -> None:
        self._driver = driver
        self.database = database
        self.url = redact_url(url)
        self._user = user

    @classmethod
    def from_url(cls, url: str) -> Neo4jStore:
        """Credentials come from the URL's `user:password@`, else NEO4J_USER / NEO4J_PASSWORD;
        the database from NEO4J_DATABASE.

        The driver gets the URL without credentials (they would reach its error messages), and
        the server is reached once here, within CONNECT_TIMEOUT_S: an unreachable one is one
        coded error at once, not a minute of the driver's retries first.
        """
        parts = urlsplit(url)
        user = unquote(parts.username) if parts.username else os.environ.get("NEO4J_USER",
                                                                             DEFAULT_USER)
        password = (unquote(parts.password) if parts.password is not None
                    else os.environ.get("NEO4J_PASSWORD"))
        database = os.environ.get("NEO4J_DATABASE", DEFAULT_DATABASE)
        auth = (user, password) if password is not None else None
        try:
            driver = neo4j.GraphDatabase.driver(redact_url(url), auth=auth,
                                                connection_timeout=CONNECT_TIMEOUT_S,
                                                connection_acquisition_timeout=CONNECT_TIMEOUT_S)
        except (DriverError, ValueError) as e:
            raise ConfigError(Errors.K019.format(url=redact_url(url), problem=_one_line(e))) from e
        store = cls(driver, database, url=url, user=user)
        try:
            with store._translated_errors():
                store._driver.verify_connectivity()
        except BaseException:
            store.close()
            raise
        return store

    @contextmanager
    def _translated_errors(self) -> Iterator[None]:
        try:
            yield
        except AuthError as e:
            raise BackendUnavailableError(Errors.K007.format(uri=self.url, user=self._user)) from e
        except ServiceUnavailable as e:
            raise BackendUnavailableError(Errors.K006.format(uri=self.url,
                                                             reason=_one_line(e))) from e
        except (Neo4jError, DriverError) as e:
            raise BackendError(Errors.K012.format(reason=_one_line(e))) from e

    def _read(self, statement: str, params: Row) -> list[Any]:
        with self._translated_errors():
            result = self._driver.execute_query(
                statement, params, routing_=neo4j.RoutingControl.READ, database_=self.database
            )
        return list(result.records)

    def ensure_schema(self) -> None:
        statements = [*q.SCHEMA_STATEMENTS.values()]
        statements += [q.create_edge_id_index(r) for r in ALL_RELATIONS]
        with self._translated_errors():
            for statement in statements:
                self._driver.execute_query(statement, database_=self.database)

    def version(self) -> str:
        records = self._read(q.GET_META, {"key": q.VERSION_KEY})
        return records[0]["value"] if records else ""

    def write(self, batch: GraphBatch) -> WriteCounts:
        with self._translated_errors(), self._driver.session(database=self.database) as session:
            tx = session.begin_transaction()
            try:
                counts = self._write_all(tx, batch)
                if counts.total:
                    tx.run(q.SET_META, {"key": q.VERSION_KEY, "value": uuid.uuid4().hex}).consume()
                tx.commit()
            except Exception:
                tx.rollback()
                raise
        return counts

    def _write_all(self, tx: neo4j.Transaction, batch: GraphBatch) -> WriteCounts:
        counts = WriteCounts()
        for source, concepts in _grouped_chunks(batch.concepts, _source, ROWS_PER_STATEMENT):
            rows = [_concept_row(c) for c in concepts]
            counts.concepts += _run(tx, q.merge_concepts(source), rows).nodes_created
        for relation, facts in _grouped_chunks(batch.facts, _relation, ROWS_PER_STATEMENT):
            rows = [_fact_row(f) for f in facts]
            counts.facts += _run(tx, q.merge_facts(relation), rows).relationships_created
        for images in _chunks(batch.images, ROWS_PER_STATEMENT):
            counts.images += _run(tx, q.MERGE_IMAGES, [_image_row(i) for i in images]).nodes_created
        for objects in _chunks(batch.objects, ROWS_PER_STATEMENT):
            counts.objects += _write_objects(tx, [_object_row(o) for o in objects])
        for relations in _chunks(batch.object_relations, ROWS_PER_STATEMENT):
            rows = [_object_relation_row(r) for r in relations]
            created = _run(tx, q.MERGE_OBJECT_RELATIONS, rows).relationships_created
            counts.object_relations += created
        return counts

    def write_unit_scores(self, run: str, rows: Sequence[Row]) -> int:
        """Replace run `run`'s relation -> unit importance edges with `rows` (one transaction).

        Each row: relation, uid, group, index, kind, tower, layer, kept, score, rank, criterion.
        Returns the number of SERVED_BY relationships written.
        """
        with self._translated_errors(), self._driver.session(database=self.database) as session:
            tx = session.begin_transaction()
            try:
                tx.run(q.DELETE_RUN_UNIT_SCORES, {"run": run}).consume()
                written = 0
                for chunk in _chunks(rows, ROWS_PER_STATEMENT):
                    written += _run(tx, q.MERGE_UNIT_SCORES,
                                    [{**r, "run": run} for r in chunk]).relationships_created
                tx.commit()
            except Exception:
                tx.rollback()
                raise
        return written

    def stats(self, view: CoverageView = FULL_VIEW) -> GraphStats:
        nodes = self._read(q.COUNT_NODES, {})[0]
        concepts = nodes["concepts"]
        if not view.is_full:
            params = {"rel_types": _rel_types(None), **self._view(view)}
            concepts = self._read(q.COUNT_CONCEPTS_IN_VIEW, params)[0]["concepts"]
        by_relation: dict[str, int] = {}
        by_source: dict[str, int] = {}
        for record in self._read(q.COUNT_FACTS, {"rel_types": _rel_types(None), **self._view(view)}):
            relation = relation_from_neo4j_type(record["rel_type"])
            by_relation[relation] = by_relation.get(relation, 0) + record["facts"]
            by_source[record["source"]] = by_source.get(record["source"], 0) + record["facts"]
        return GraphStats(
            concepts=concepts,
            facts=sum(by_relation.values()),
            by_relation=by_relation,
            by_source=by_source,
            images=nodes["images"],
            objects=nodes["objects"],
            object_relations=nodes["object_relations"],
        )

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
        filters = {"rel_types": _rel_types(relations), **self._view(view)}
        first = self._facts(q.NEIGHBORS, {"uri": uri, "limit": limit, **filters})
        if hops == 1 or len(first) >= limit:
            return first
        ends = sorted({end for f in first for end in (f.head, f.tail)} - {uri})
        if not ends:
            return first
        params = {"uris": ends, "exclude": [f.edge_id for f in first],
                  "limit": limit - len(first), **filters}
        return first + self._facts(q.NEIGHBORS_SECOND_HOP, params)

    def facts_among(
        self,
        uris: Sequence[str],
        *,
        relations: Sequence[str] | None = None,
        limit: int = 1000,
        view: CoverageView = FULL_VIEW,
    ) -> list[Fact]:
        params = {"uris": list(dict.fromkeys(uris)), "limit": limit,
                  "rel_types": _rel_types(relations), **self._view(view)}
        return self._facts(q.FACTS_AMONG, params)

    def get_concepts(self, uris: Sequence[str]) -> list[Concept]:
        """In the order asked for, each once."""
        wanted = list(dict.fromkeys(uris))
        found = {c.uri: c for c in map(_concept, self._read(q.GET_CONCEPTS, {"uris": wanted}))}
        return [found[u] for u in wanted if u in found]

    def iter_concepts(
        self, *, batch_size: int = ROWS_PER_STATEMENT, view: CoverageView = FULL_VIEW
    ) -> Iterator[list[Concept]]:
        """Pages by uri, so a page is one short read and nothing stays open between pages."""
        if view.is_full:
            statement, params = q.ITER_CONCEPTS, {"batch_size": batch_size}
        else:
            statement = q.ITER_CONCEPTS_IN_VIEW
            params = {"batch_size": batch_size, "rel_types": _rel_types(None), **self._view(view)}
        after = ""
        while page := [_concept(r) for r in self._read(statement, {"after": after, **params})]:
            yield page
            if len(page) < batch_size:
                return
            after = page[-1].uri

    def sample_facts(self, *, limit: int = 10, view: CoverageView = FULL_VIEW) -> list[Fact]:
        params = {"limit": limit, "rel_types": _rel_types(None), **self._view(view)}
        return self._facts(q.SAMPLE_FACTS, params)

    def _view(self, view: CoverageView) -> Row:
        vf = resolve_view(self, view)
        return {
            "cov_shift": vf.shift, "fact_level": vf.fact_level, "concept_level": vf.concept_level,
            "rel_levels": {neo4j_type(r): level for r, level in vf.relation_levels.items()},
            "source": vf.source, "every_edge": vf.edge_ids is None,
            "edge_ids": sorted(vf.edge_ids or ()),
        }

    def iter_facts(self, *, batch_size: int = ROWS_PER_STATEMENT,
                   provenance: bool = True) -> Iterator[list[Fact]]:
        """One streamed read: the driver pulls records in batches as they are consumed.

        Provenance is on the relationships, so it comes either way."""
        with self._translated_errors(), self._driver.session(database=self.database) as session:
            result = session.run(q.ALL_FACTS, {"rel_types": _rel_types(None)})
            yield from _chunks(map(_fact, result), batch_size)

    def _facts(self, statement: str, params: Row) -> list[Fact]:
        return [_fact(r) for r in self._read(statement, params)]

    def close(self) -> None:
        self._driver.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _source(concept: Concept) -> str:
    return concept.source


def _relation(fact: Fact) -> str:
    return check_relation(fact.relation)


def _run(tx: neo4j.Transaction, statement: str, rows: list[Row]) -> neo4j.SummaryCounters:
    return tx.run(statement, {"rows": rows}).consume().counters


def _write_objects(tx: neo4j.Transaction, rows: list[Row]) -> int:
    created = _run(tx, q.MERGE_OBJECTS, rows).nodes_created
    _run(tx, q.LINK_OBJECTS_TO_IMAGES, rows)
    linked = [row for row in rows if row["concept"]]
    if linked:
        _run(tx, q.LINK_OBJECTS_TO_CONCEPTS, linked)
    return created
