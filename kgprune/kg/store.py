"""The `GraphStore` protocol every backend implements, and opening a store from its URL.

The rest of kgprune sees only this protocol: `ladybug:///path` (embedded, the default) and
`bolt://` / `neo4j://` (a Neo4j 5 server) are interchangeable behind it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

from kgprune.errors import ConfigError, Errors
from kgprune.kg.coverage import FULL_VIEW, CoverageView
from kgprune.kg.records import Concept, Fact, Image, ObjectInstance, ObjectRelation


@dataclass(slots=True)
class GraphBatch:
    """Everything one load writes, committed together or not at all.

    Members are iterables so a backend can stream them (to CSV for `COPY FROM`, to `UNWIND` batches)
    without holding a full dump in memory. Concepts and facts must be unique within a batch (the
    stagers merge duplicates); keys already in the store are skipped.
    """

    concepts: Iterable[Concept] = ()
    facts: Iterable[Fact] = ()
    images: Iterable[Image] = ()
    objects: Iterable[ObjectInstance] = ()
    object_relations: Iterable[ObjectRelation] = ()


@dataclass(slots=True)
class WriteCounts:
    concepts: int = 0
    facts: int = 0
    images: int = 0
    objects: int = 0
    object_relations: int = 0

    @property
    def total(self) -> int:
        return self.concepts + self.facts + self.images + self.objects + self.object_relations


@dataclass(slots=True)
class GraphStats:
    concepts: int
    facts: int
    by_relation: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    images: int = 0
    objects: int = 0
    object_relations: int = 0


@runtime_checkable
class GraphStore(Protocol):
    """A knowledge graph of concepts and facts (plus Visual Genome scenes) behind Cypher."""

    url: str

    def ensure_schema(self) -> None:
        """Create tables / constraints if missing; safe to call on every open."""

    def write(self, batch: GraphBatch) -> WriteCounts:
        """Add what is not there yet, in one transaction; existing keys are left unchanged."""

    def stats(self, view: CoverageView = FULL_VIEW) -> GraphStats: ...

    def neighbors(
        self,
        uri: str,
        *,
        relations: Sequence[str] | None = None,
        hops: int = 1,
        limit: int = 100,
        view: CoverageView = FULL_VIEW,
    ) -> list[Fact]:
        """Facts touching `uri` in either direction, best first; hops=2 adds facts of its neighbours.

        Order everywhere: weight descending, then edge_id ascending. Hop 1 takes up to `limit` facts
        touching `uri`; hop 2 then fills the rest of `limit` with facts touching any other end of a
        hop-1 fact that are not hop-1 facts themselves. `relations` and `view` filter both hops.
        """

    def facts_among(
        self,
        uris: Sequence[str],
        *,
        relations: Sequence[str] | None = None,
        limit: int = 1000,
        view: CoverageView = FULL_VIEW,
    ) -> list[Fact]:
        """Facts whose both ends lie in `uris`."""

    def get_concepts(self, uris: Sequence[str]) -> list[Concept]:
        """The concepts among `uris` that exist in the store."""

    def iter_concepts(
        self, *, batch_size: int = 10_000, view: CoverageView = FULL_VIEW
    ) -> Iterator[list[Concept]]: ...

    def iter_facts(self, *, batch_size: int = 10_000,
                   provenance: bool = True) -> Iterator[list[Fact]]:
        """Every fact of the full graph, in batches (coverage sampling walks over these).

        With `provenance=False` a store may leave dataset, surface text and contributors empty:
        sampling reads only the triple and the edge id, and the embedded store keeps the rest in a
        side table that a full scan would have to join.
        """

    def sample_facts(self, *, limit: int = 10, view: CoverageView = FULL_VIEW) -> list[Fact]:
        """The highest-weight facts, for a first look at a graph."""

    def version(self) -> str:
        """Changes whenever a write adds anything; caches and indexes key on it."""

    def close(self) -> None: ...

    def __enter__(self) -> GraphStore: ...

    def __exit__(self, *exc: object) -> None:
        """Closes the store."""


def check_hops(hops: int) -> int:
    """Neighbourhoods are 1 or 2 hops: beyond that a hub concept returns most of the graph."""
    if hops not in (1, 2):
        raise ConfigError(Errors.K015.format(hops=hops))
    return hops


StoreFactory = Callable[[str], GraphStore]


def _open_ladybug(url: str) -> GraphStore:
    from kgprune.kg.backends.ladybug import LadybugStore

    return LadybugStore.from_url(url)


def _open_neo4j(url: str) -> GraphStore:
    from kgprune.kg.backends.neo4j import Neo4jStore

    return Neo4jStore.from_url(url)


STORE_FACTORIES: dict[str, StoreFactory] = {
    "ladybug": _open_ladybug,
    "bolt": _open_neo4j,
    "bolt+s": _open_neo4j,
    "neo4j": _open_neo4j,
    "neo4j+s": _open_neo4j,
}


def data_home() -> Path:
    """Where kgprune keeps its databases and indexes; `KGPRUNE_HOME` moves it."""
    return Path(os.environ.get("KGPRUNE_HOME") or Path.home() / ".kgprune").expanduser()


def home_store_url() -> str:
    """The embedded store in the data home: kgprune's own, the one store it fills unasked."""
    return f"ladybug://{(data_home() / 'kg').resolve()}"


def default_store_url() -> str:
    return os.environ.get("KGPRUNE_STORE") or home_store_url()


def redact_url(url: str) -> str:
    """`url` without any `user:password@` part: the only form of a store URL fit for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.partition("://")[0] + "://(unparseable)"
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def open_store(url: str | None = None) -> GraphStore:
    """Open the store a URL names; the schema is ensured before it is returned."""
    url = url or default_store_url()
    try:
        scheme = urlsplit(url).scheme
        urlsplit(url).port  # noqa: B018 -- raises ValueError for a port outside 0-65535
    except ValueError as e:
        raise ConfigError(Errors.K019.format(url=redact_url(url), problem=e)) from e
    factory = STORE_FACTORIES.get(scheme)
    if factory is None:
        raise ConfigError(Errors.K001.format(scheme=scheme, url=redact_url(url)))
    store = factory(url)
    store.ensure_schema()
    return store
