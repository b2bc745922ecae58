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
