"""De-duplicate a stream of concepts and facts on disk before anything touches a store.

Staging first means a malformed line is found before the store changes, and merging duplicates
(sense-tagged URIs collapse onto one term-level triple) needs all rows of a key together. Facts are
hash-partitioned into bucket files so that only one bucket is in memory at a time: memory stays flat
on the full ConceptNet dump.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from kgprune.kg.coverage import stable_hash64
from kgprune.kg.records import Concept, Fact

NUM_BUCKETS = 16
STAGE_PREFIX = "kgprune-stage-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_stage_dirs(parent: Path) -> None:
    """Staging folders of loads that were killed: their process no longer exists."""
    for folder in parent.glob(f"{STAGE_PREFIX}*-*"):
        pid = folder.name[len(STAGE_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def stage_dir() -> Iterator[Path]:
    """A private staging folder named after this process, removed when done (or by the next run)."""
    parent = Path(tempfile.gettempdir())
    remove_stale_stage_dirs(parent)
    with tempfile.TemporaryDirectory(prefix=f"{STAGE_PREFIX}{os.getpid()}-", dir=parent) as tmp:
        yield Path(tmp)


def merge_facts(a: Fact, b: Fact) -> Fact:
    """Keep the stronger assertion's text and weight; pool the contributors of both."""
    best, other = (a, b) if (a.weight, a.dataset) >= (b.weight, b.dataset) else (b, a)
    contributors = best.contributors + tuple(
        c for c in other.contributors if c not in best.contributors
    )
    return Fact(
        head=best.head,
        relation=best.relation,
        tail=best.tail,
        weight=best.weight,
        source=best.source,
        dataset=best.dataset,
        edge_id=best.edge_id,
        surface_text=best.surface_text or other.surface_text,
        contributors=contributors,
        predicate=best.predicate or other.predicate,
    )


def _encode(fact: Fact) -> str:
    return json.dumps(
        [fact.head, fact.relation, fact.tail, fact.weight, fact.source, fact.dataset,
         fact.edge_id, fact.surface_text, fact.contributors, fact.predicate],
        ensure_ascii=False,
    )


def _decode(line: str) -> Fact:
    h, r, t, w, src, ds, eid, surface, contributors, predicate = json.loads(line)
    return Fact(h, r, t, w, src, ds, eid, surface, tuple(contributors), predicate)


class ConceptStager:
    """Term-level concepts seen in a load, with every part of speech their sense URIs carried."""

    def __init__(self) -> None:
        self._concepts: dict[str, Concept] = {}
        self._pos: dict[str, set[str]] = {}

    def add(self, concept: Concept) -> None:
        if concept.uri not in self._concepts:
            self._concepts[concept.uri] = concept
        if concept.pos:
            self._pos.setdefault(concept.uri, set()).add(concept.pos)

    def __len__(self) -> int:
        return len(self._concepts)

    def __iter__(self) -> Iterator[Concept]:
        for uri, c in self._concepts.items():
            pos = "".join(sorted(self._pos.get(uri, ())))
            yield Concept(uri=c.uri, name=c.name, lang=c.lang, pos=pos, source=c.source)


class FactStager:
    """Spill facts into hash buckets; iterate them back merged, one bucket in memory at a time."""

    def __init__(self, workdir: Path | None = None, num_buckets: int = NUM_BUCKETS) -> None:
        parent = workdir or Path(tempfile.gettempdir())
        remove_stale_stage_dirs(parent)
        self._tmp = tempfile.TemporaryDirectory(prefix=f"{STAGE_PREFIX}{os.getpid()}-", dir=parent)
        root = Path(self._tmp.name)
        self._paths = [root / f"facts-{i:02d}.jsonl" for i in range(num_buckets)]
        self._files: list[IO[str]] = [p.open("w", encoding="utf-8") for p in self._paths]
        self.num_facts = 0
        self.duplicates_merged = 0

    def add(self, fact: Fact) -> None:
        bucket = stable_hash64("\x1f".join(fact.key)) % len(self._files)
        self._files[bucket].write(_encode(fact) + "\n")
        self.num_facts += 1

    def __iter__(self) -> Iterator[Fact]:
        for f in self._files:
            f.close()
        for path in self._paths:
            merged: dict[tuple[str, str, str, str], Fact] = {}
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    fact = _decode(line)
                    seen = merged.get(fact.key)
                    if seen is None:
                        merged[fact.key] = fact
                    else:
                        merged[fact.key] = merge_facts(seen, fact)
                        self.duplicates_merged += 1
            yield from merged.values()

    def close(self) -> None:
        for f in self._files:
            f.close()
        self._tmp.cleanup()

    def __enter__(self) -> FactStager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
