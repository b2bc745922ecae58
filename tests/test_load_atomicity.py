"""A load is invisible until whole: killed half-way it leaves the embedded store as it was, readers
never see part of it and are never locked out, and re-running it ends like one clean run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.ingest import load_conceptnet, load_visual_genome
from kgprune.kg.loaders.conceptnet_columnar import ColumnarConceptNet

# Loads the file with one fact per COPY (the load crosses many chunk boundaries), pauses after
# the second fact chunk so a reader can look at the store meanwhile, then kills itself.
KILL_AFTER_SECOND_FACT_CHUNK = """
import os, signal, sys, time
from pathlib import Path
from kgprune.kg import ingest
from kgprune.kg.backends import ladybug, ladybug_build
from kgprune.kg.backends.ladybug import LadybugStore

parser = sys.argv[3]
copies = []
rows = ladybug_build.BuildSession.rows
def rows_then_die(self, statement, params=None):
    result = rows(self, statement, params)
    if statement.startswith("COPY FACT"):
        copies.append(statement)
        if len(copies) == 2:
            Path(sys.argv[4]).write_text("mid-load")
            time.sleep(float(sys.argv[5]))
            os.kill(os.getpid(), signal.SIGKILL)
    return result
ladybug_build.BuildSession.rows = rows_then_die
ladybug.COPY_POOL_BYTES_PER_ROW = 2**40  # one row per Parquet chunk
store = LadybugStore(Path(sys.argv[1]), copy_chunk_rows=1)
ingest.load_conceptnet(store, Path(sys.argv[2]), parser=parser)
"""

# Reads the store until told to stop: a fresh read-only open per round, and one store kept open
# throughout; every round's counts go to stdout as a JSON line.
READER = """
import json, sys, time
from pathlib import Path
from kgprune.kg.backends.ladybug import LadybugStore

path, stop = Path(sys.argv[1]), Path(sys.argv[2])
kept = LadybugStore(path)
while not stop.exists():
    fresh = LadybugStore(path)
    for which, store in (("fresh", fresh), ("kept", kept)):
        s = store.stats()
        print(json.dumps([which, s.concepts, s.facts, s.images]), flush=True)
    fresh.close()
    time.sleep(0.05)
kept.close()
"""


def _counts(store: LadybugStore) -> tuple[int, int, int]:
    s = store.stats()
    return (s.concepts, s.facts, s.images)


def _leftovers(db: Path) -> list[Path]:
    return sorted(db.parent.glob(f"{db.name}.build-*"))


@pytest.mark.parametrize("parser", ["duckdb", "python"])
def test_killed_load_is_invisible_to_readers_and_rerun_matches_clean_run(
    tmp_path: Path, conceptnet_csv: Path, vg_dir: Path, parser: str
) -> None:
    db = tmp_path / "kg.lbdb"
    setup = LadybugStore(db)
    load_visual_genome(setup, vg_dir)
    before = _counts(setup)
    setup.close()

    clean = LadybugStore(tmp_path / "clean.lbdb")
    load_visual_genome(clean, vg_dir)
    load_conceptnet(clean, conceptnet_csv, parser=parser)  # type: ignore[arg-type]
    after = _counts(clean)
    clean.close()
    assert after[1] > before[1] + 2, "the load spans more than two fact chunks"

    stop, mid = tmp_path / "stop", tmp_path / "mid"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_AFTER_SECOND_FACT_CHUNK, str(db), str(conceptnet_csv),
             parser, str(mid), "2"], stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL, err.decode()
        assert mid.exists(), "the loader was killed after committing two chunks"
        assert _leftovers(db), "the killed build is still on disk"
        staging = f"kgprune-stage-{proc.pid}-*"
        assert list(Path(tempfile.gettempdir()).glob(staging)), "its staging folder too"

        rerun = LadybugStore(db)
        assert _counts(rerun) == before
        load_conceptnet(rerun, conceptnet_csv, parser=parser)  # type: ignore[arg-type]
        assert _counts(rerun) == after
        assert _leftovers(db) == [], "the next write removed the killed build"
        assert not list(Path(tempfile.gettempdir()).glob(staging)), "and its staging folder"
        rerun.close()
        time.sleep(1.0)
    finally:
        stop.write_text("stop")
        out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    seen = [json.loads(line) for line in out.splitlines()]
    fresh = {tuple(counts) for which, *counts in seen if which == "fresh"}
    kept = {tuple(counts) for which, *counts in seen if which == "kept"}
    assert fresh <= {before, after} and after in fresh, fresh
    assert kept == {before}, "a store opened before the load keeps reading the old graph"
    assert sum(which == "fresh" for which, *_ in seen) >= 10, "the reader ran throughout"


def test_chunked_writes_equal_one_write(tmp_path: Path, conceptnet_csv: Path, vg_dir: Path) -> None:
    whole = LadybugStore(tmp_path / "whole.lbdb")
    load_conceptnet(whole, conceptnet_csv, parser="python")
    load_visual_genome(whole, vg_dir)
    chunked = LadybugStore(tmp_path / "chunked.lbdb", copy_chunk_rows=2)
    load_conceptnet(chunked, conceptnet_csv, parser="python")
    load_visual_genome(chunked, vg_dir)
    assert chunked.stats() == whole.stats()
    whole.close()
    chunked.close()


def test_a_failed_load_changes_nothing_and_leaves_no_build(tmp_path: Path, vg_dir: Path) -> None:
    db = tmp_path / "kg.lbdb"
    store = LadybugStore(db)
    load_visual_genome(store, vg_dir)
    version, before = store.version(), _counts(store)
    bad = tmp_path / "bad.csv"
    bad.write_text("/a/x\t/r/IsA\t/c/en/a\t/c/en/b\t{\"weight\": NaN}\n", encoding="utf-8")
    with pytest.raises(Exception, match="K003"):
        load_conceptnet(store, bad)
    assert (store.version(), _counts(store)) == (version, before)
    assert _leftovers(db) == []
    store.close()


@pytest.mark.parametrize("failing", ["facts", "provenance"])
def test_a_bulk_load_failing_beside_its_concept_copy_changes_nothing(
    tmp_path: Path, conceptnet_csv: Path, vg_dir: Path, monkeypatch: pytest.MonkeyPatch,
    failing: str,
) -> None:
    """The concepts are copied on a second thread while the facts are written, and the
    provenance is exported on a third beside the facts: a failure in either export still leaves
    the store as it was, and no build behind."""
    db = tmp_path / "kg.lbdb"
    store = LadybugStore(db)
    load_visual_genome(store, vg_dir)
    version, before = store.version(), _counts(store)
    export = ColumnarConceptNet._export

    def fail(self: ColumnarConceptNet, name: str, *args: object, **kwargs: object) -> object:
        if name == failing:
            raise OSError("disk full")
        return export(self, name, *args, **kwargs)

    monkeypatch.setattr(ColumnarConceptNet, "_export", fail)
    with pytest.raises(OSError, match="disk full"):
        load_conceptnet(store, conceptnet_csv)
    assert (store.version(), _counts(store)) == (version, before)
    assert _leftovers(db) == []
    store.close()


def test_a_load_that_adds_nothing_does_not_rewrite_the_store(
    tmp_path: Path, conceptnet_csv: Path, vg_dir: Path
) -> None:
    db = tmp_path / "kg.lbdb"
    store = LadybugStore(db)
    load_conceptnet(store, conceptnet_csv)
    load_visual_genome(store, vg_dir)
    inode, version = db.stat().st_ino, store.version()
    assert load_conceptnet(store, conceptnet_csv).facts_added == 0
    assert load_visual_genome(store, vg_dir).objects_added == 0
    assert (db.stat().st_ino, store.version()) == (inode, version)
    store.close()
