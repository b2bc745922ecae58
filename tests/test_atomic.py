"""Atomic writes: the old file or the new one, never half of one, and no temporary left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kgprune.atomic import atomic_path, write_atomic


def test_write_replaces_the_file_and_creates_parents(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "scores.json"
    write_atomic(target, "first ü")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["scores.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.safetensors"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as temp:
        temp.write_text("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_get_the_mode_the_umask_gives(tmp_path: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        write_atomic(tmp_path / "results.json", "{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "results.json").stat().st_mode) == mode
