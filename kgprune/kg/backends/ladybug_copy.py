"""Bulk writes for the embedded store: rows -> CSV files -> `COPY FROM`, in bounded chunks.

LadybugDB keeps a `COPY`'s pages in its buffer pool until it commits, so one `COPY` of millions of
wide fact rows exhausts any bounded pool. Rows are therefore copied in chunks, each `COPY`
committing on its own; the write is still all or nothing because it goes to a private build of
the store (`ladybug_build`) that replaces the store only when complete.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kgprune.kg.cypher import ladybug as q

Run = Callable[[str], object]


class CsvTable:
    """A CSV file in the dialect `COPY FROM` reads back unchanged (all quoted, quotes doubled)."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self.columns = columns
        self.rows = 0
        self.multiline = False
        self._fh = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        self._writer.writerow(columns)

    def write(self, row: Sequence[Any]) -> None:
        if not self.multiline:
            self.multiline = any(isinstance(v, str) and ("\n" in v or "\r" in v) for v in row)
        self._writer.writerow(row)
        self.rows += 1

    def close(self) -> None:
        self._fh.close()


class CopyGroup:
    """Tables copied together, in order (nodes before the relationships that point at them).

    After `chunk_rows` records `end_record` copies what it holds; `finish` copies the rest.
    Counts are records of the first table.
    """

    def __init__(self, run: Run, directory: Path, tables: Sequence[tuple[str, Sequence[str]]], *,
                 chunk_rows: int) -> None:
        self._run = run
        self._directory = directory
        self._tables = tables
        self._chunk_rows = chunk_rows
        self._chunk = 0
        self.total = 0
        self._files = self._open()

    def _open(self) -> list[CsvTable]:
        return [CsvTable(self._directory / f"{name}-{self._chunk:04d}.csv", columns)
                for name, columns in self._tables]

    def write(self, table: int, row: Sequence[Any]) -> None:
        self._files[table].write(row)

    def end_record(self) -> None:
        if self._files[0].rows >= self._chunk_rows:
            self._flush()
            self._chunk += 1
            self._files = self._open()

    def _flush(self) -> None:
        for (name, _), table in zip(self._tables, self._files, strict=True):
            table.close()
            if table.rows:
                self._run(q.copy_from(name, str(table.path), parallel=not table.multiline))
            table.path.unlink()
        self.total += self._files[0].rows

    def finish(self) -> int:
        self._flush()
        return self.total
