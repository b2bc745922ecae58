"""kgprune: knowledge-graph-guided structured pruning of multimodal language models.

The public API (`kgprune.api`) is imported on first use, so `import kgprune` and the command
line's start stay free of torch and transformers:

    import kgprune
    kg = kgprune.open_kg()
    pruned, report = kgprune.prune(model, method="knowledge", ratio=0.3, data="bench/", kg=kg)
    kgprune.save_pruned(pruned, "out/")
    pruned = kgprune.load_pruned("out/")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["PruneReport", "TowerRemoval", "__version__", "load_pruned", "open_kg", "prune",
           "save_pruned", "score"]

if TYPE_CHECKING:
    from kgprune.api import (
        PruneReport,
        TowerRemoval,
        load_pruned,
        open_kg,
        prune,
        save_pruned,
        score,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        from kgprune import api

        return getattr(api, name)
    raise AttributeError(f"module 'kgprune' has no attribute {name!r}")
