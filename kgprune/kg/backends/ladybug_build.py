"""Every write to the embedded store builds a new database file beside it and renames it into place.

Readers open the store's file read-only and never see a write in progress: a load copies the file
to `<store>.build-<id>`, adds its rows there (each `COPY` commits on its own, so memory stays flat)
and swaps the finished file in with one `rename`. A reader that opened the old file keeps reading
the old graph; one that opens after the rename reads the whole new one. A load killed at any point
leaves the store as it was; the next write removes what it left behind. Writers take turns through
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
    """A read-write connection to the private copy, and a work directory for its input files."""

    def __init__(self, conn: ladybug.Connection, workdir: Path) -> None:
        self._conn = conn
        self.workdir = workdir
        self.keep = False  # set by the writer when the build changed something worth swapping in

    def rows(self, statement: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        try:
            return self._conn.execute(statement, params or {}).get_all()
        except RuntimeError as e:
            raise BackendError(Errors.K012.format(reason=e)) from e


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
    """Yield a session on a private copy of `path`; swap it in if the session says `keep`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _write_lock(path):
        remove_stale_builds(path)
        if wal_of(path).exists():
            # A store written in place by an older kgprune: fold its log in before copying.
            ladybug.Database(str(path), buffer_pool_size=buffer_pool_bytes).close()
        build = path.with_name(f"{path.name}{BUILD_INFIX}{uuid.uuid4().hex}")
        workdir = build.with_name(build.name + ".tmp")
        workdir.mkdir()
        try:
            if path.exists():
                shutil.copyfile(path, build)
            try:
                db = ladybug.Database(str(build), buffer_pool_size=buffer_pool_bytes)
                conn = ladybug.Connection(db)
            except (RuntimeError, OSError) as e:
                raise BackendUnavailableError(Errors.K011.format(path=build, reason=e)) from e
            try:
                session = BuildSession(conn, workdir)
                yield session
            finally:
                conn.close()
                db.close()  # checkpoints: the finished file needs no log beside it
            if session.keep:
                _fsync(build)
                os.replace(build, path)
                _fsync(path.parent)
        finally:
            for leftover in (build, wal_of(build), workdir):
                _remove(leftover)
