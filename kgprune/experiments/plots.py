"""PNG figures of a run, each drawn only when the run holds its data.

Figures are drawn on bare `matplotlib.figure.Figure`s (the Agg canvas, no pyplot), so rendering
changes no global backend and needs no display. Error bars are 95% t-interval half-widths.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from kgprune.atomic import atomic_path
from kgprune.experiments.aggregate import Group, Paired
from kgprune.experiments.coerce import format_layer_range
from kgprune.experiments.spec import FULL
from kgprune.experiments.tables import FIELD_LABELS, metric_info

Plot = Callable[[Path, Sequence[Group], Sequence[Paired]], bool]


def _save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as temp:
        fig.savefig(temp, format="png", dpi=120, bbox_inches="tight")


def _err(group: Group, metric: str) -> float:
    half = group.stats[metric].half_width
    return 0.0 if half is None else half


def _differing(groups: Sequence[Group], exclude: Sequence[str]) -> list[str]:
    """The cell fields that tell the plotted groups apart: one line per combination."""
    return [f for f in FIELD_LABELS if f not in exclude
            and len({g.fields[f] for g in groups}) > 1]


def _series(groups: Sequence[Group], split: list[str]) -> dict[str, list[Group]]:
    found: dict[str, list[Group]] = {}
    for g in groups:
        label = ", ".join(str(g.fields[f]) for f in split) or "pruned"
        found.setdefault(label, []).append(g)
    return found


def _versus_compression(metric: str) -> Plot:
    def draw(path: Path, groups: Sequence[Group], paired: Sequence[Paired]) -> bool:
        pruned = [g for g in groups if g.fields["method"] != FULL and metric in g.stats]
        if len({g.fields["ratio"] for g in pruned}) < 2:
            return False
        fig = Figure(figsize=(6.4, 4.2))
        ax = fig.subplots()
        for label, members in _series(pruned, _differing(pruned, ("ratio",))).items():
            members = sorted(members, key=lambda g: g.fields["ratio"])
            ax.errorbar([100 * g.fields["ratio"] for g in members],
                        [g.stats[metric].mean for g in members],
                        yerr=[_err(g, metric) for g in members], marker="o", capsize=3,
                        label=label)
        for full in (g for g in groups if g.fields["method"] == FULL and metric in g.stats):
            ax.axhline(full.stats[metric].mean, color="grey", linestyle="--", linewidth=1)
            ax.errorbar([0], [full.stats[metric].mean], yerr=[_err(full, metric)], marker="s",
                        color="black", capsize=3, label="full model")
        _finish(ax, "compression (% of prunable parameters removed)", metric_info(metric).label,
                f"{metric_info(metric).label} vs compression")
        _save(fig, path)
        return True
    return draw


def _finish(ax: Axes, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize="small")


def accuracy_vs_coverage(path: Path, groups: Sequence[Group],
                         paired: Sequence[Paired]) -> bool:
    """One line per sampling strategy; full coverage (no strategy) ends every line."""
    rows = [g for g in groups if "accuracy" in g.stats and g.fields["method"] != FULL]
    if len({g.fields["coverage"] for g in rows}) < 2:
        return False
    full = [g for g in rows if g.fields["coverage"] >= 1.0]
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    split = _differing(rows, ("coverage", "strategy"))
    strategies = dict.fromkeys(g.fields["strategy"] for g in rows if g.fields["coverage"] < 1)
    for strategy in strategies:
        for label, members in _series([g for g in rows if g.fields["strategy"] == strategy
                                       and g.fields["coverage"] < 1], split).items():
            ends = [f for f in full if all(f.fields[k] == members[0].fields[k] for k in split)]
            members = sorted(members + ends, key=lambda g: g.fields["coverage"])
            ax.errorbar([100 * g.fields["coverage"] for g in members],
                        [g.stats["accuracy"].mean for g in members],
                        yerr=[_err(g, "accuracy") for g in members], marker="o", capsize=3,
                        label=strategy if label == "pruned" else f"{strategy}, {label}")
    _finish(ax, "knowledge-graph coverage (%)", metric_info("accuracy").label,
            "Accuracy vs KG coverage")
    _save(fig, path)
    return True


def layer_sensitivity(path: Path, groups: Sequence[Group], paired: Sequence[Paired]) -> bool:
    """Tower x layer range: the accuracy change against the full model where it was measured,
    else the accuracy itself."""
    drops = {(p.fields["tower"], p.fields["layer_range"]): p.diff.mean for p in paired
             if p.metric == "accuracy" and p.field == "method" and p.b == FULL
             and p.fields.get("layer_range") is not None}
    values = drops or {(g.fields["tower"], g.fields["layer_range"]): g.stats["accuracy"].mean
                       for g in groups if g.fields["layer_range"] is not None
                       and "accuracy" in g.stats}
    if not values:
        return False
    towers = list(dict.fromkeys(t for t, _ in values))
    ranges = sorted({r for _, r in values})
    grid = [[values.get((t, r), math.nan) for r in ranges] for t in towers]
    fig = Figure(figsize=(1.6 + 1.3 * len(ranges), 1.2 + 0.7 * len(towers)))
    ax = fig.subplots()
    image = ax.imshow(grid, cmap="RdYlGn" if drops else "viridis", aspect="auto")
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if not math.isnan(value):
                ax.text(j, i, f"{value:+.1f}" if drops else f"{value:.1f}", ha="center",
                        va="center", fontsize="small")
    ax.set_xticks(range(len(ranges)), [format_layer_range(r) for r in ranges])
    ax.set_yticks(range(len(towers)), [t or "all" for t in towers])
    ax.set_xlabel("layers pruned")
    label = "accuracy change vs full model (points)" if drops else metric_info("accuracy").label
    fig.colorbar(image, ax=ax, label=label)
    ax.set_title("Layer-wise sensitivity")
    _save(fig, path)
    return True


def speedup_vs_ideal(path: Path, groups: Sequence[Group], paired: Sequence[Paired]) -> bool:
    rows = [g for g in groups if "speedup" in g.stats and "ideal_speedup" in g.stats]
    if not rows:
        return False
    fig = Figure(figsize=(5.4, 5.0))
    ax = fig.subplots()
    for label, members in _series(rows, _differing(rows, ("ratio",))).items():
        ax.errorbar([g.stats["ideal_speedup"].mean for g in members],
                    [g.stats["speedup"].mean for g in members],
                    yerr=[_err(g, "speedup") for g in members], marker="o", linestyle="none",
                    capsize=3, label=label)
        for g in members:
            ax.annotate(f"{g.fields['ratio']:.0%}", (g.stats["ideal_speedup"].mean,
                                                      g.stats["speedup"].mean),
                        textcoords="offset points", xytext=(4, 4), fontsize="x-small")
    top = max(max(g.stats["ideal_speedup"].mean, g.stats["speedup"].mean) for g in rows) * 1.1
    ax.plot([1, top], [1, top], color="grey", linestyle="--", linewidth=1, label="ideal")
    _finish(ax, "ideal speedup (from FLOPs)", "measured speedup", "Speedup vs ideal")
    _save(fig, path)
    return True


PLOTS: dict[str, Plot] = {
    "oneshot_accuracy_vs_compression.png": _versus_compression("oneshot_accuracy"),
    "accuracy_vs_compression.png": _versus_compression("accuracy"),
    "hallucination_vs_compression.png": _versus_compression("hallucination"),
    "accuracy_vs_coverage.png": accuracy_vs_coverage,
    "layer_sensitivity.png": layer_sensitivity,
    "speedup_vs_ideal.png": speedup_vs_ideal,
}


def render_plots(run_dir: Path, groups: Sequence[Group],
                 paired: Sequence[Paired]) -> list[Path]:
    """Draw every figure the data supports; remove an earlier render's figure that no longer
    applies, so report.md never shows a stale one."""
    written = []
    for name, plot in PLOTS.items():
        path = run_dir / name
        if plot(path, groups, paired):
            written.append(path)
        else:
            path.unlink(missing_ok=True)
    return written

