"""An on-disk cache of retrieval results, so a training loop never waits on the graph store.

SQLite: atomic writes, safe across processes, one file. Entries carry the KG version they were
computed against; a lookup under another version misses, and opening the cache under a new version
deletes the stale rows.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kgprune.kg.store import data_home

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS retrieval ("
    " key TEXT PRIMARY KEY, kg_version TEXT NOT NULL, value TEXT NOT NULL)"
)
_CHUNK = 500


def default_cache_path(store_url: str) -> Path:
    digest = hashlib.sha1(store_url.encode("utf-8")).hexdigest()[:12]
    return data_home() / "cache" / f"retrieval-{digest}.sqlite"


class RetrievalCache:
    """Key -> JSON document, valid for one KG version."""

    def __init__(self, path: Path, *, kg_version: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            self._db.execute("DELETE FROM retrieval WHERE kg_version != ?", (kg_version,))

    def get_many(self, keys: Sequence[str], *, kg_version: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = list(keys[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, value FROM retrieval WHERE kg_version = ? AND key IN ({marks})",
                    (kg_version, *chunk),
                )
                found.update((k, json.loads(v)) for k, v in rows)
        return found

    def put_many(self, entries: dict[str, dict[str, Any]], *, kg_version: str) -> None:
        rows = [(k, kg_version, json.dumps(v, ensure_ascii=False)) for k, v in entries.items()]
        with self._lock, self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO retrieval (key, kg_version, value) VALUES (?, ?, ?)", rows)

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM retrieval").fetchone()[0]

    def close(self) -> None:
        self._db.close()
