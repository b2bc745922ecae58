"""The model card (README.md) of a saved pruned model: what was removed, from what data and
knowledge-graph view, how well it does when that was measured, and how to load it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_METRICS = (("accuracy", "VQA accuracy (%)"), ("hallucination", "hallucination rate (%)"),
            ("speedup", "speedup (x)"), ("params_ratio", "parameters kept"))


def _removed_per_tower(kept: Mapping[str, Mapping[str, Any]]) -> list[str]:
    rows = []
    totals: dict[tuple[str, str], list[int]] = {}
    for kind in ("heads", "neurons"):
        for key, entry in kept.get(kind, {}).items():
            tower = str(entry.get("tower", key))
            total, removed = totals.setdefault((tower, kind), [0, 0]), \
                entry["total"] - len(entry["kept"])
            total[0] += entry["total"]
            total[1] += removed
    for (tower, kind), (total, removed) in sorted(totals.items()):
        share = removed / total if total else 0.0
        rows.append(f"| {tower} | {kind} | {removed:,} of {total:,} | {share:.1%} |")
    return rows


def _view(info: Mapping[str, Any]) -> str:
    view = info.get("view")
    if not isinstance(view, Mapping):
        return "not recorded (no knowledge graph used)" if "store" not in info else "full graph"
    level = float(view.get("level", 1.0))
    if level >= 1.0:
        return f"full graph ({info.get('store', 'store not recorded')})"
    source = f", source {view['source']}" if view.get("source") else ""
    return (f"{level:.0%} coverage, {view.get('strategy', 'edge')} sampling, seed "
            f"{view.get('seed', 0)}{source} ({info.get('store', 'store not recorded')})")


def model_card(manifest: Mapping[str, Any], *, loadable: bool) -> str:
    """README.md text for a folder whose manifest is `manifest`; `loadable` when its config.json
    describes the pruned shapes (plain `from_pretrained` works)."""
    plan, info = manifest["plan"], manifest.get("info", {})
    base = manifest["base"]
    architecture = base.get("architecture") or base.get("class") or manifest["family"]
    lines = [f"# Pruned {architecture} (kgprune)", "",
             f"Structured pruning by kgprune {manifest['kgprune_version']}: attention heads and "
             "feed-forward neurons were physically removed.", "",
             "| | |", "|---|---|",
             f"| importance criterion | {plan.get('criterion') or 'not recorded'} |",
             f"| target ratio | {float(plan.get('target_ratio', 0.0)):.1%} of prunable parameters |",
             f"| removed | {int(plan.get('removed_params', 0)):,} of "
             f"{int(plan.get('prunable_params', 0)):,} prunable parameters "
             f"({float(plan.get('removed_ratio', 0.0)):.1%}) |",
             f"| layer policy | {plan.get('settings', {}).get('policy', 'global')} |",
             *([f"| heads kept whole | {info['heads_kept_whole']} |"]
               if "heads_kept_whole" in info else []),
             f"| data | {info.get('data', 'not recorded')} |",
             f"| knowledge-graph view | {_view(info)} |",
             f"| quantisation | {(manifest.get('quantization') or {}).get('method', 'none')} |"]
    metrics = info.get("metrics") if isinstance(info.get("metrics"), Mapping) else {}
    for key, label in _METRICS:
        if key in metrics:
            lines.append(f"| {label} | {metrics[key]} |")
    if not metrics:
        lines.append("| accuracy, speedup | not measured at save time (`kgprune vqa evaluate`, "
                     "`kgprune measure`) |")
    lines += ["", "## Removed per tower", "", "| tower | units | removed | share |",
              "|---|---|---:|---:|", *_removed_per_tower(manifest.get("kept", {})), "",
              "## How to load", ""]
    if loadable:
        lines += ["Every layer of a tower keeps the same number of units, so `config.json` "
                  "describes the pruned model and plain transformers loads it:", "",
                  "```python", f"from transformers import {architecture}",
                  f'model = {architecture}.from_pretrained("path/to/this/folder")', "```", "",
                  "kgprune loads it too (with the processor and VQA adapter when they were "
                  "saved):", ""]
    else:
        lines += ["The layers keep different numbers of units, which no Hugging Face config can "
                  "describe, so this folder has no `config.json` for `from_pretrained` "
                  "(`base_config.json` is the unpruned architecture). Load it with kgprune, "
                  "which rebuilds the architecture and applies the plan in `manifest.json`:", ""]
    call = 'kgprune.load_pruned("path/to/this/folder")'
    if base.get("kind") == "module":
        call = f'kgprune.load_pruned("path/to/this/folder", model={architecture.rsplit(".", 1)[-1]}(...))'
    lines += ["```python", "import kgprune", f"model = {call}", "```", "",
              "`manifest.json` holds the plan (the kept heads and neurons of every layer), the "
              "inputs and the SHA-256 of every file.", ""]
    return "\n".join(lines)
