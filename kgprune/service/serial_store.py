"""A `GraphStore` behind one lock: the embedded connection must not serve two threads at once."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TypeVar

from kgprune.kg.coverage import FULL_VIEW, CoverageView
from kgprune.kg.records import Concept, Fact
from kgprune.kg.store import GraphBatch, GraphStats, GraphStore, WriteCounts

T = TypeVar("T")


class SerialStore:
    """A `GraphStore` that lets one thread at a time through to the store it wraps.

    Iterators take the lock per batch, so other threads get their turn between batches.
    """

    def __init__(self, store: GraphStore) -> None:
        self._store = store
        self._lock = threading.RLock()
        self.url = store.url

    def ensure_schema(self) -> None:
        with self._lock:
            self._store.ensure_schema()

    def write(self, batch: GraphBatch) -> WriteCounts:
        with self._lock:
            return self._store.write(batch)

    def stats(self, view: CoverageView = FULL_VIEW) -> GraphStats:
        with self._lock:
            return self._store.stats(view)

    def neighbors(self, uri: str, *, relations: Sequence[str] | None = None, hops: int = 1,
                  limit: int = 100, view: CoverageView = FULL_VIEW) -> list[Fact]:
        with self._lock:
            return self._store.neighbors(uri, relations=relations, hops=hops, limit=limit,
                                         view=view)

    def facts_among(self, uris: Sequence[str], *, relations: Sequence[str] | None = None,
                    limit: int = 1000, view: CoverageView = FULL_VIEW) -> list[Fact]:
        with self._lock:
            return self._store.facts_among(uris, relations=relations, limit=limit, view=view)

    def get_concepts(self, uris: Sequence[str]) -> list[Concept]:
        with self._lock:
            return self._store.get_concepts(uris)

    def iter_concepts(self, *, batch_size: int = 10_000,
                      view: CoverageView = FULL_VIEW) -> Iterator[list[Concept]]:
        return self._stepwise(self._store.iter_concepts(batch_size=batch_size, view=view))

    def iter_facts(self, *, batch_size: int = 10_000,
                   provenance: bool = True) -> Iterator[list[Fact]]:
        return self._stepwise(self._store.iter_facts(batch_size=batch_size,
                                                     provenance=provenance))

    def _stepwise(self, batches: Iterator[T]) -> Iterator[T]:
        while True:
            with self._lock:
                batch = next(batches, None)
            if batch is None:
                return
            yield batch

    def sample_facts(self, *, limit: int = 10, view: CoverageView = FULL_VIEW) -> list[Fact]:
        with self._lock:
            return self._store.sample_facts(limit=limit, view=view)

    def version(self) -> str:
        with self._lock:
            return self._store.version()

    def close(self) -> None:
        with self._lock:
            self._store.close()

    def __enter__(self) -> SerialStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


