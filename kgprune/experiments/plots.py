"""PNG figures of a run, each drawn only when the run holds its data.

Figures are drawn on bare `matplotlib.figure.Figure`s (the Agg canvas, no pyplot), so rendering
changes no global backend and needs no display. Every figure says in a footnote what its points
and bars are and over how many seeds: accuracy and hallucination are means with 95% t-intervals;
a speedup is a ratio, so its interval is taken on log(speedup) (never below zero) around the
geometric mean, and with fewer than 3 seeds the bar is the min-max range instead. Methods that
share an x value are offset sideways so their bars do not hide each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from kgprune.atomic import atomic_path
from kgprune.experiments.aggregate import CONFIDENCE, Group, Paired, Stat, t_quantile
from kgprune.experiments.coerce import format_layer_range
from kgprune.experiments.spec import FULL
from kgprune.experiments.tables import FIELD_LABELS, format_field, metric_info

Plot = Callable[[Path, Sequence[Group], Sequence[Paired]], bool]


def _save(fig: Figure, path: Path) -> None:
    with atomic_path(path) as temp:
        fig.savefig(temp, format="png", dpi=120, bbox_inches="tight")


def _err(group: Group, metric: str) -> float:
    half = group.stats[metric].half_width
    return 0.0 if half is None else half


def _ratio_point(stat: Stat) -> tuple[float, float, float]:
    """(centre, below, above) of a ratio metric: the geometric mean with the t-interval of the
    log values for n >= 3, else the mean with the min-max range; always above zero."""
    values = [v for v in stat.values if v > 0] or [stat.mean]
    if len(values) >= 3:
        logs = [math.log(v) for v in values]
        mean = sum(logs) / len(logs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
        half = t_quantile(0.5 + CONFIDENCE / 2, len(logs) - 1) * sd / math.sqrt(len(logs))
        centre = math.exp(mean)
        return centre, centre - math.exp(mean - half), math.exp(mean + half) - centre
    centre = sum(values) / len(values)
    return centre, centre - min(values), max(values) - centre


def _seeds(groups: Sequence[Group], metric: str) -> str:
    counts = sorted({g.stats[metric].n for g in groups if metric in g.stats})
    if not counts:
        return "no seeds"
    span = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
    return f"n = {span} seed{'s' if counts[-1] > 1 else ''} per point"


def _footnote(fig: Figure, text: str) -> None:
    fig.text(0.01, -0.02, text, fontsize="x-small", ha="left", va="top", wrap=True)


def _differing(groups: Sequence[Group], exclude: Sequence[str]) -> list[str]:
    """The cell fields that tell the plotted groups apart: one line per combination."""
    return [f for f in FIELD_LABELS if f not in exclude
            and len({g.fields[f] for g in groups}) > 1]


def _label(group: Group, split: list[str]) -> str:
    """"knowledge, λ = 0.5": the method as it is, other fields with their name."""
    parts = [format_field(f, group.fields[f]) if f == "method"
             else f"{FIELD_LABELS[f]} = {format_field(f, group.fields[f])}" for f in split]
    return ", ".join(parts) or "pruned"


def _series(groups: Sequence[Group], split: list[str]) -> dict[str, list[Group]]:
    found: dict[str, list[Group]] = {}
    for g in groups:
        found.setdefault(_label(g, split), []).append(g)
    return found


def _offsets(count: int, spacing: float) -> list[float]:
    """Sideways shifts for `count` series sharing x values `spacing` apart."""
    step = spacing * 0.6 / max(count, 1)
    return [(i - (count - 1) / 2) * step for i in range(count)]


def _majority(ax: Axes, groups: Sequence[Group]) -> None:
    """The accuracy of always answering the most frequent training answer."""
    values = [g.stats["majority_accuracy"].mean for g in groups if "majority_accuracy" in g.stats]
    if values:
        ax.axhline(sum(values) / len(values), color="tab:red", linestyle=":", linewidth=1.2,
                   label="majority answer")


def _versus_compression(metric: str) -> Plot:
    def draw(path: Path, groups: Sequence[Group], paired: Sequence[Paired]) -> bool:
        pruned = [g for g in groups if g.fields["method"] != FULL and metric in g.stats]
        ratios = sorted({100 * g.fields["ratio"] for g in pruned})
        if len(ratios) < 2:
            return False
        fig = Figure(figsize=(6.4, 4.2))
        ax = fig.subplots()
        series = _series(pruned, _differing(pruned, ("ratio",)))
        spacing = min(b - a for a, b in zip(ratios, ratios[1:]))
        for shift, (label, members) in zip(_offsets(len(series), spacing), series.items()):
            members = sorted(members, key=lambda g: g.fields["ratio"])
            ax.errorbar([100 * g.fields["ratio"] + shift for g in members],
                        [g.stats[metric].mean for g in members],
                        yerr=[_err(g, metric) for g in members], marker="o", capsize=3,
                        label=label)
        for full in (g for g in groups if g.fields["method"] == FULL and metric in g.stats):
            ax.axhline(full.stats[metric].mean, color="grey", linestyle="--", linewidth=1)
            ax.errorbar([0], [full.stats[metric].mean], yerr=[_err(full, metric)], marker="s",
                        color="black", capsize=3, label="full model")
        if metric == "accuracy":
            _majority(ax, groups)
        ax.set_xticks([0, *ratios] if any(g.fields["method"] == FULL for g in groups)
                      else ratios)
        _finish(ax, "compression (% of prunable heads and FFN neurons' parameters removed)",
                metric_info(metric).label, f"{metric_info(metric).label} vs compression")
        _footnote(fig, f"Points: mean over seeds ({_seeds(groups, metric)}); bars: 95% "
                       "t-interval (none for one seed). Methods are offset sideways at each "
                       "compression so their bars do not overlap.")
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
    _majority(ax, rows)
    _finish(ax, "knowledge-graph coverage (%)", metric_info("accuracy").label,
            "Accuracy vs KG coverage")
    _footnote(fig, f"Points: mean over seeds ({_seeds(rows, 'accuracy')}); bars: 95% t-interval "
                   "(none for one seed).")
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
    """Measured against FLOPs-ideal speedup, one marker per series; each compression level is
    labelled once, beside its cluster of points."""
    rows = [g for g in groups if "speedup" in g.stats and "ideal_speedup" in g.stats]
    if not rows:
        return False
    fig = Figure(figsize=(5.8, 5.0))
    ax = fig.subplots()
    points = {id(g): _ratio_point(g.stats["speedup"]) for g in rows}
    series = _series(rows, _differing(rows, ("ratio",)))
    ideal = sorted({round(g.stats["ideal_speedup"].mean, 3) for g in rows})
    spacing = min((b - a for a, b in zip(ideal, ideal[1:])), default=0.5)
    for shift, (label, members) in zip(_offsets(len(series), spacing / 2), series.items()):
        ax.errorbar([g.stats["ideal_speedup"].mean + shift for g in members],
                    [points[id(g)][0] for g in members],
                    yerr=[[points[id(g)][1] for g in members],
                          [points[id(g)][2] for g in members]],
                    marker="o", linestyle="none", capsize=3, label=label)
    for ratio in sorted({g.fields["ratio"] for g in rows}):
        cluster = [g for g in rows if g.fields["ratio"] == ratio]
        x = sum(g.stats["ideal_speedup"].mean for g in cluster) / len(cluster)
        y = min(points[id(g)][0] - points[id(g)][1] for g in cluster)
        ax.annotate(f"{ratio:.0%}", (x, y), textcoords="offset points", xytext=(0, -12),
                    ha="center", fontsize="small", color="dimgrey")
    top = max(max(g.stats["ideal_speedup"].mean, points[id(g)][0] + points[id(g)][2])
              for g in rows) * 1.1
    ax.plot([1, top], [1, top], color="grey", linestyle="--", linewidth=1, label="ideal")
    low = min(p[0] - p[1] for p in points.values())
    ax.set_ylim(bottom=min(low, 1.0) - 0.1 * (top - min(low, 1.0)))
    _finish(ax, "ideal speedup (from FLOPs)", "measured speedup (batch 32)", "Speedup vs ideal")
    few = min(g.stats["speedup"].n for g in rows) < 3
    _footnote(fig, f"Points: geometric mean of the measured speedup ({_seeds(rows, 'speedup')}); "
                   "bars: 95% t-interval on log(speedup)"
                   + (" where n >= 3, else the min-max range" if few else "")
                   + ". Series are offset sideways around their ideal speedup. Grey labels: "
                   "compression (share of prunable parameters removed).")
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

