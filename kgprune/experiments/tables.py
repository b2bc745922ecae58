"""Report tables as plain data, rendered to Markdown for report.md and to rich for the terminal,
so both show the same rows; and how each metric and cell field is labelled and formatted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from kgprune.experiments.aggregate import Paired, Stat
from kgprune.experiments.coerce import format_layer_range


@dataclass(frozen=True, slots=True)
class MetricInfo:
    label: str
    spec: str
    """format() spec of one value; '%' specs show a share (0.7 -> 70.0%)."""
    higher_is_better: bool = True
    suffix: str = ""


METRICS: Mapping[str, MetricInfo] = {
    "params_removed": MetricInfo("params removed (all)", ".1%"),
    "removed_ratio": MetricInfo("removed (prunable)", ".1%"),
    "oneshot_accuracy": MetricInfo("one-shot accuracy (%)", ".1f"),
    "oneshot_ce": MetricInfo("one-shot CE", ".3f", higher_is_better=False),
    "accuracy": MetricInfo("accuracy (%)", ".1f"),
    "test_ce": MetricInfo("test CE", ".3f", higher_is_better=False),
    "hallucination": MetricInfo("hallucination (%)", ".1f", higher_is_better=False),
    "speedup": MetricInfo("speedup", ".2f", suffix="×"),
    "ideal_speedup": MetricInfo("ideal speedup", ".2f", suffix="×"),
    "memory_mb": MetricInfo("memory (MB)", ",.1f", higher_is_better=False),
    "params": MetricInfo("params", ",.0f", higher_is_better=False),
    "params_ratio": MetricInfo("params kept", ".1%", higher_is_better=False),
    "flops_ratio": MetricInfo("FLOPs kept", ".1%", higher_is_better=False),
    "latency_ms_b1": MetricInfo("latency b=1 (ms)", ".2f", higher_is_better=False),
    "latency_ms_b32": MetricInfo("latency b=32 (ms)", ".2f", higher_is_better=False),
    "importance_s": MetricInfo("importance (s)", ".2f", higher_is_better=False),
    "step_s": MetricInfo("fine-tune step (s)", ".4f", higher_is_better=False),
    "finetune_s": MetricInfo("fine-tuning (s)", ".1f", higher_is_better=False),
    "rank_self": MetricInfo("ρ self (other samples)", ".3f"),
}
RANK_PREFIX = "rank_vs_"
FIELD_LABELS: Mapping[str, str] = {
    "method": "method", "ratio": "compression", "lam": "λ", "coverage": "KG coverage",
    "strategy": "sampling", "tower": "tower", "layer_range": "layers",
    "train_data": "pruned on", "eval_data": "evaluated on", "quantize": "quantization",
    "normalize": "normalisation", "steps": "fine-tuning steps", "labels": "labelled samples",
}
NORMALIZATION_LABELS: Mapping[str, str] = {"tower_kind": "per pool", "tower": "per tower",
                                           "none": "none", "": "default"}


def metric_info(name: str) -> MetricInfo:
    if name.startswith(RANK_PREFIX):
        return MetricInfo(f"ρ vs {name[len(RANK_PREFIX):]}", ".3f")
    return METRICS.get(name, MetricInfo(name.replace("_", " "), ".4g"))


def ordered_metrics(names: set[str] | list[str]) -> list[str]:
    """Known metrics in the reports' order, then any others alphabetically."""
    return [m for m in METRICS if m in names] + sorted(set(names) - set(METRICS))


def format_value(value: float, name: str) -> str:
    """In the metric's format; a value that rounds to zero shows as 0, not -0."""
    info = metric_info(name)
    text = f"{value:{info.spec}}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]
    return f"{text}{info.suffix}"


def format_stat(stat: Stat | None, name: str) -> str:
    """'72.4 ± 1.3': the mean and the half-width of its 95% t-interval (n >= 2)."""
    if stat is None:
        return "–"
    half = stat.half_width
    text = format_value(stat.mean, name)
    return text if half is None else f"{text} ± {half:{metric_info(name).spec}}"


def format_field(name: str, value: Any) -> str:
    if name in ("ratio", "coverage"):
        return f"{value:.0%}"
    if name == "normalize":
        return NORMALIZATION_LABELS.get(value, str(value))
    if name == "labels":
        return "all" if value is None else "none (KG targets)" if value == 0 else str(value)
    if name == "steps":
        return "default" if value is None else str(value)
    if name == "layer_range":
        return format_layer_range(value) or "all"
    if name == "tower":
        return value or "all"
    if name == "lam":
        return f"{value:g}"
    return str(value) if value != "" else "–"


def describe_fields(fields: Mapping[str, Any], names: list[str]) -> str:
    return ", ".join(f"{FIELD_LABELS[n]} {format_field(n, fields[n])}" for n in names) or "all"


@dataclass(frozen=True, slots=True)
class ReportTable:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    text_columns: int = 1
    """The first columns hold labels (left-aligned); the rest hold numbers."""

    def to_markdown(self) -> str:
        align = ["---"] * self.text_columns + ["---:"] * (len(self.columns) - self.text_columns)
        lines = [f"### {self.title}", "", _md_row(self.columns), _md_row(align)]
        lines += [_md_row(row) for row in self.rows]
        if self.caption:
            lines += ["", self.caption]
        return "\n".join(lines) + "\n"

    def to_rich(self) -> Table:
        table = Table(title=self.title, caption=self.caption or None)
        for i, column in enumerate(self.columns):
            table.add_column(column, justify="left" if i < self.text_columns else "right")
        for row in self.rows:
            table.add_row(*row)
        return table

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": list(self.columns),
                "rows": [list(r) for r in self.rows], "caption": self.caption}


def _variant(field: str, value: Any) -> str:
    if field not in FIELD_LABELS:  # a comparison across several fields names its variants
        return str(value)
    text = format_field(field, value)
    return text if field == "method" else f"{FIELD_LABELS[field]} {text}"


def _md_row(cells: tuple[str, ...] | list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def paired_table(comparisons: list[Paired]) -> ReportTable:
    """One row per comparison: the mean per-seed difference, its interval, wins and losses.
    The setting names the fields that tell the rows apart (the compression, at least)."""
    names = [f for f in FIELD_LABELS if any(f in p.fields for p in comparisons)
             and (f == "ratio" or len({p.fields.get(f) for p in comparisons}) > 1)]
    rows = []
    for p in comparisons:
        setting = describe_fields(p.fields, [f for f in names if f in p.fields])
        low, high = p.diff.low, p.diff.high
        interval = ("–" if low is None or high is None
                    else f"[{format_value(low, p.metric)}, {format_value(high, p.metric)}]")
        rows.append((f"{_variant(p.field, p.a)} − {_variant(p.field, p.b)}", setting,
                     metric_info(p.metric).label, format_value(p.diff.mean, p.metric), interval,
                     f"{p.wins}/{p.losses}/{p.ties}", str(p.diff.n)))
    return ReportTable(
        "Paired comparison (same seeds)",
        ("comparison", "setting", "metric", "mean difference", "95% interval",
         "wins/losses/ties", "n"), tuple(rows),
        caption="Differences are per seed (first minus second); a win is a seed where the first "
                "is better (higher accuracy, lower hallucination or cost).", text_columns=3)
