"""A load killed half-way leaves the embedded store as it was; re-running it ends like one clean run."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.ingest import load_conceptnet, load_visual_genome

KILL_AFTER_CONCEPTS = """
import os, signal, sys
from pathlib import Path
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.ingest import load_conceptnet

def die(self, facts, tmp):
    os.kill(os.getpid(), signal.SIGKILL)

store = LadybugStore(Path(sys.argv[1]))
store.ensure_schema()
LadybugStore._copy_facts = die  # concepts are copied, facts not yet, nothing committed
load_conceptnet(store, Path(sys.argv[2]))
"""


def test_killed_load_commits_nothing_and_rerun_matches_clean_run(
    tmp_path: Path, conceptnet_csv: Path, vg_dir: Path
) -> None:
    db = tmp_path / "killed.lbdb"
    setup = LadybugStore(db)
    setup.ensure_schema()
    load_visual_genome(setup, vg_dir)
    before = setup.stats()
    setup.close()

    proc = subprocess.run([sys.executable, "-c", KILL_AFTER_CONCEPTS, str(db), str(conceptnet_csv)],
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()

    killed = LadybugStore(db)
    killed.ensure_schema()
    assert killed.stats() == before
    load_conceptnet(killed, conceptnet_csv)
    after_rerun = killed.stats()
    killed.close()

    clean = LadybugStore(tmp_path / "clean.lbdb")
    clean.ensure_schema()
    load_visual_genome(clean, vg_dir)
    load_conceptnet(clean, conceptnet_csv)
    assert clean.stats() == after_rerun
    clean.close()


KILL_AFTER_FIRST_CHUNK = """
import os, signal, sys
from pathlib import Path
from kgprune.kg.backends.ladybug import LadybugStore
from kgprune.kg.ingest import load_conceptnet

store = LadybugStore(Path(sys.argv[1]), copy_chunk_rows=5)
store.ensure_schema()
commit = store._next_chunk
def die_after_commit():
    commit()
    os.kill(os.getpid(), signal.SIGKILL)
store._next_chunk = die_after_commit
load_conceptnet(store, Path(sys.argv[2]))
"""


def test_large_writes_commit_in_chunks_and_a_killed_one_completes_on_rerun(
    tmp_path: Path, conceptnet_csv: Path
) -> None:
    clean = LadybugStore(tmp_path / "clean.lbdb")
    clean.ensure_schema()
    load_conceptnet(clean, conceptnet_csv)
    expected = clean.stats()
    clean.close()

    chunked = LadybugStore(tmp_path / "chunked.lbdb", copy_chunk_rows=4)
    chunked.ensure_schema()
    load_conceptnet(chunked, conceptnet_csv)
    assert chunked.stats() == expected
    chunked.close()

    db = tmp_path / "killed.lbdb"
    proc = subprocess.run([sys.executable, "-c", KILL_AFTER_FIRST_CHUNK, str(db), str(conceptnet_csv)],
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    partial = LadybugStore(db)
    partial.ensure_schema()
    assert partial.stats().concepts == 5 and partial.stats().facts == 0
    assert partial.version(), "the committed chunk stamped a new version"
    load_conceptnet(partial, conceptnet_csv)
    assert partial.stats() == expected
    partial.close()
