"""Files written whole or not at all: a temporary sibling, flushed to disk, renamed over the target.

A reader (or a resumed run) sees the old file or the new one, never half of one; a failed write
leaves no temporary behind. The file gets the mode any new file of the user's gets (0666 less the
umask), not the 0600 of `tempfile.mkstemp`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary sibling of `path` to write to; it replaces `path` when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _new_sibling(path)
    try:
        yield temp
        with temp.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _new_sibling(path: Path) -> Path:
    """Create an empty, unique hidden sibling; `open` applies the umask to its 0666."""
    while True:
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return temp


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8) to `path` atomically."""
    with atomic_path(path) as temp:
        temp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
