"""Every write to the embedded store builds a new database file beside it and renames it into place.

Readers open the store's file read-only and never see a write in progress: a load copies the file
to `<store>.build-<id>`, adds its rows there (each `COPY` commits on its own, so memory stays flat)
and swaps the finished file in with one `rename`. A reader that opened the old file keeps reading
the old graph; one that opens after the rename reads the whole new one. A load killed at any point
leaves the store as it was; the next write removes what it left behind. A write that adds nothing
copies nothing. Writers take turns through
an advisory lock, so two loads never build from the same old graph.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ladybug

from kgprune.errors import BackendError, BackendUnavailableError, Errors

BUILD_INFIX = ".build-"


def wal_of(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


class BuildSession:
    """Reads of the current store, and writes to a private copy made at the first write.

    A write that turns out to add nothing (every key already stored) never copies the store.
    """

    def __init__(self, path: Path, build: Path, workdir: Path, buffer_pool_bytes: int) -> None:
        self._path = path
        self.build = build
        self.workdir = workdir
        self._pool = buffer_pool_bytes
        self._reader = self._connect(path, read_only=True) if path.exists() else None
        self._writer: tuple[ladybug.Database, ladybug.Connection] | None = None
        self.wrote = False

    def _connect(self, path: Path, *, read_only: bool) -> tuple[ladybug.Database,
                                                                ladybug.Connection]:
        try:
            db = ladybug.Database(str(path), read_only=read_only, buffer_pool_size=self._pool)
            return db, ladybug.Connection(db)
        except (RuntimeError, OSError) as e:
            raise BackendUnavailableError(Errors.K011.format(path=path, reason=e)) from e

    @staticmethod
    def _run(conn: ladybug.Connection, statement: str,
             params: dict[str, Any] | None) -> list[list[Any]]:
        try:
            return conn.execute(statement, params or {}).get_all()
        except RuntimeError as e:
            raise BackendError(Errors.K012.format(reason=e)) from e

    def read(self, statement: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        """A read of the store as it is (nothing when there is no store yet)."""
        return [] if self._reader is None else self._run(self._reader[1], statement, params)

    def rows(self, statement: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        """A write, to the private copy."""
        if self._writer is None:
            if self._path.exists():
                shutil.copyfile(self._path, self.build)
            self._writer = self._connect(self.build, read_only=False)
            self.wrote = True
        return self._run(self._writer[1], statement, params)

    def close(self) -> None:
        """Closing the copy checkpoints it: the finished file needs no log beside it."""
        for handle in (self._writer, self._reader):
            if handle is not None:
                handle[1].close()
                handle[0].close()
        self._writer = self._reader = None


@contextmanager
def _write_lock(path: Path) -> Iterator[None]:
    with open(path.with_name(path.name + ".write-lock"), "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale_builds(path: Path) -> None:
    """Builds of killed writers: only called with the write lock held, so none is live."""
    for stale in path.parent.glob(f"{path.name}{BUILD_INFIX}*"):
        _remove(stale)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def build_aside(path: Path, buffer_pool_bytes: int) -> Iterator[BuildSession]:
    """Yield a session on the store; what it wrote replaces the store when the block ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _write_lock(path):
        remove_stale_builds(path)
        if wal_of(path).exists():
            # A store written in place by an older kgprune: fold its log in before copying.
            ladybug.Database(str(path), buffer_pool_size=buffer_pool_bytes).close()
        build = path.with_name(f"{path.name}{BUILD_INFIX}{uuid.uuid4().hex}")
        workdir = build.with_name(build.name + ".tmp")
        workdir.mkdir()
        session = BuildSession(path, build, workdir, buffer_pool_bytes)
        try:
            try:
                yield session
            finally:
                session.close()
            if session.wrote:
                _fsync(build)
                os.replace(build, path)
                _fsync(path.parent)
        finally:
            # The build's file, its log and LadybugDB's checkpoint files beside it.
            for leftover in path.parent.glob(f"{build.name}*"):
                _remove(leftover)
