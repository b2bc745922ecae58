"""A run's directory: what it was asked (inputs.json), what it finished (cells.jsonl), resumably.

results/<study>-<UTC time>/ is new for every run. Naming an existing run directory resumes it, but
only when its recorded spec equals the new one: a run is never overwritten or mixed with another.
Each finished cell is one fsync'd JSON line, so a crash loses at most the cell in progress; a line
torn by the crash is dropped on resume and that cell runs again. A lock file keeps two processes
from running the same directory at once.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kgprune.atomic import write_atomic
from kgprune.errors import Errors, ExperimentError
from kgprune.experiments.config import to_toml
from kgprune.experiments.provenance import host, versions
from kgprune.experiments.records import CellRecord
from kgprune.experiments.spec import StudySpec

INPUTS = "inputs.json"
CELLS = "cells.jsonl"
CONFIG = "config.toml"
LOCK = ".lock"
RUN_FORMAT = 1


def utc_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_run_dir(out: Path, study: str, now: datetime | None = None) -> Path:
    """out/<study>-<UTC time>, with -2, -3 ... if a run started in the same second."""
    base = out / f"{study}-{(now or datetime.now(UTC)).strftime('%Y%m%dT%H%M%SZ')}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def read_inputs(path: Path) -> dict[str, Any]:
    """A run directory's inputs.json, checked enough to trust its `spec` and `study`."""
    file = path / INPUTS
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ExperimentError(Errors.K612.format(path=file, problem=e)) from None
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict) \
            or data.get("format") != RUN_FORMAT:
        raise ExperimentError(Errors.K612.format(
            path=file, problem=f"expected format {RUN_FORMAT} with a 'spec' object"))
    return data


def read_records(path: Path) -> list[CellRecord]:
    """The finished cells, in order; a torn last line is ignored."""
    file = path / CELLS
    return _scan(file.read_bytes(), file)[0] if file.is_file() else []


def _scan(data: bytes, file: Path) -> tuple[list[CellRecord], int]:
    """The records and the byte length of the intact part; only the last line may be torn."""
    records: list[CellRecord] = []
    *lines, fragment = data.split(b"\n")  # every record ends in a newline: a fragment is torn
    end = 0
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                records.append(CellRecord.from_json(json.loads(line)))
            except (ValueError, KeyError, TypeError, IndexError) as e:
                if any(rest.strip() for rest in lines[number:]) or fragment.strip():
                    raise ExperimentError(Errors.K613.format(path=file, line=number,
                                                             problem=e)) from None
                return records, end
        end += len(line) + 1
    return records, end


class RunDir:
    """An open, locked run directory. Open it with `RunDir.open`; close it when done."""

    def __init__(self, path: Path, spec: StudySpec, created: bool, resumed: bool,
                 lock: int) -> None:
        self.path, self.spec, self.created, self.resumed = path, spec, created, resumed
        self._lock = lock

    @classmethod
    def open(cls, path: Path, spec: StudySpec) -> RunDir:
        """A new run at `path`, or the run already there if it has the same spec."""
        if path.exists() and not path.is_dir():
            raise ExperimentError(Errors.K611.format(path=path, problem="it is a file"))
        created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        has_inputs = (path / INPUTS).is_file()
        if not has_inputs and any(p.name != LOCK for p in path.iterdir()):
            raise ExperimentError(Errors.K611.format(path=path,
                                                     problem=f"it holds files but no {INPUTS}"))
        lock = _lock(path)
        try:
            if has_inputs:
                _check_same_spec(path, spec)
                _repair_tail(path / CELLS)
        except BaseException:
            os.close(lock)
            raise
        return cls(path, spec, created, has_inputs, lock)

    def __enter__(self) -> RunDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1

    def discard(self) -> None:
        """Remove a directory this run created before recording anything in it."""
        self.close()
        if self.created and not (self.path / INPUTS).exists():
            (self.path / LOCK).unlink(missing_ok=True)
            if not any(self.path.iterdir()):
                self.path.rmdir()

    def record_inputs(self, context: Mapping[str, Any]) -> None:
        """inputs.json: the spec, its seeds, versions, host and the runner's context. A resume
        adds a session (its versions and host, and its context where it changed)."""
        context = json.loads(json.dumps(dict(context), default=str))
        session: dict[str, Any] = {"started_utc": utc_stamp(), "versions": versions(),
                                   "host": host()}
        if self.resumed:
            data = read_inputs(self.path)
            if context != data.get("context"):
                session["context"] = context
            data["sessions"].append(session)
        else:
            data = {"format": RUN_FORMAT, "study": self.spec.name, "spec": self.spec.to_dict(),
                    "seeds": list(self.spec.seeds), "cells": len(self.spec.cells()),
                    "created_utc": session["started_utc"], "context": context,
                    "sessions": [session]}
            write_atomic(self.path / CONFIG, to_toml(self.spec))
        write_atomic(self.path / INPUTS, json.dumps(data, indent=1, ensure_ascii=False) + "\n")

    def finished(self) -> dict[str, CellRecord]:
        return {r.cell_id: r for r in read_records(self.path)}

    def append(self, record: CellRecord) -> None:
        line = json.dumps(record.to_json(), sort_keys=True, allow_nan=False) + "\n"
        with (self.path / CELLS).open("ab") as handle:
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())


def _lock(path: Path) -> int:
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ExperimentError(Errors.K616.format(path=path)) from None
    return fd


def _check_same_spec(path: Path, spec: StudySpec) -> None:
    recorded = read_inputs(path)["spec"]
    requested = spec.to_dict()
    for key in dict.fromkeys([*recorded, *requested]):
        if recorded.get(key) != requested.get(key):
            raise ExperimentError(Errors.K610.format(path=path, key=key,
                                                     recorded=recorded.get(key),
                                                     requested=requested.get(key)))


def _repair_tail(file: Path) -> None:
    """Cut a torn last line so the next record starts on a line of its own."""
    if not file.is_file():
        return
    data = file.read_bytes()
    _, end = _scan(data, file)
    if end < len(data):
        with file.open("r+b") as handle:
            handle.truncate(end)
            handle.flush()
            os.fsync(handle.fileno())
