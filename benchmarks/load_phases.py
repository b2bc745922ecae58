"""What the KG load benchmarks share: each measured phase runs in a fresh process (so its peak RSS
is its own), with the load average around it, and the runs are written as one JSON file."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path

from kgprune.atomic import write_atomic


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_phase(script: str, name: str, parser: str, source: tuple[str, Path],
              workdir: Path) -> dict[str, float]:
    """`script --phase name` in a new process; `source` is its input flag and path."""
    flag, path = source
    before = os.getloadavg()
    out = subprocess.run([sys.executable, script, "--phase", name, "--parser", parser,
                          flag, str(path), "--workdir", str(workdir)],
                         check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["loadavg_before"], result["loadavg_after"] = before, os.getloadavg()
    return result


def write_runs(out: Path, runs: list[dict]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(),
            "cpus": os.cpu_count(), "ladybug": __import__("ladybug").__version__,
            "duckdb": __import__("duckdb").__version__}
    write_atomic(out, json.dumps({"meta": meta, "runs": runs}, indent=2))
