"""Atomic writes: the old file or the new one, never half of one, and no temporary left behind."""

from __future__ import annotations

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
