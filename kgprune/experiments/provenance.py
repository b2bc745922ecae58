"""Versions and host facts a run records, so a number can be traced to what produced it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import kgprune

PACKAGES = ("torch", "transformers", "safetensors", "numpy")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version(), "kgprune": kgprune.__version__}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    found |= _git(Path(kgprune.__file__).resolve().parent)
    return found


def _git(where: Path) -> dict[str, str]:
    """The commit of a source checkout and whether tracked files differ from it; {} otherwise.
    `--no-optional-locks` keeps git from rewriting the index while another process commits."""
    try:
        commit = subprocess.run(["git", "--no-optional-locks", "rev-parse", "HEAD"], cwd=where,
                                capture_output=True, text=True, timeout=10, check=True)
        status = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain",
                                 "--untracked-files=no"], cwd=where, capture_output=True,
                                text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"kgprune_commit": commit.stdout.strip(),
            "kgprune_tree": "modified" if status.stdout.strip() else "clean"}


def host() -> dict[str, Any]:
    """Hardware and OS facts; no host name or user, so results can be shared as they are.
    Device facts come from torch when it is loaded, as it is once a cell runner has prepared."""
    facts: dict[str, Any] = {"os": platform.platform(), "machine": platform.machine(),
                             "processor": platform.processor(), "cpus": os.cpu_count()}
    torch = sys.modules.get("torch")
    if torch is not None:
        facts["torch_threads"] = torch.get_num_threads()
        facts["cuda"] = torch.cuda.is_available()
        if facts["cuda"]:
            facts["cuda_version"] = torch.version.cuda
            facts["gpus"] = [torch.cuda.get_device_name(i)
                             for i in range(torch.cuda.device_count())]
    return facts
