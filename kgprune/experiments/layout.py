"""What each study's report shows: its main table's metrics, extra tables, and which variants it
compares seed by seed. Everything else in the reports is the same for every study."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kgprune.experiments.aggregate import Group, Paired, paired, paired_variants
from kgprune.experiments.criteria_tables import (
    budget_table,
    condition,
    field_text,
    label_free_table,
    rank_table,
    with_ce,
)
from kgprune.experiments.records import CellRecord
from kgprune.experiments.spec import FULL
from kgprune.experiments.tables import (
    FIELD_LABELS,
    ReportTable,
    describe_fields,
    format_field,
    format_stat,
    metric_info,
    ordered_metrics,
)

Comparisons = Callable[[Sequence[CellRecord]], list[Paired]]
QUALITY = ("accuracy", "hallucination")
ACCURACY = ("oneshot_accuracy", "accuracy")
"""What criteria are compared on: right after pruning and after fine-tuning."""
COLUMNS = ("oneshot_accuracy", "oneshot_ce", "accuracy", "test_ce", "hallucination")
"""Every main table's quality columns (the one-shot ones where pruned cells ran)."""
UNSTATED: Mapping[str, Any] = {"coverage": 1.0, "strategy": "edge", "tower": "", "layer_range": None,
                               "train_data": "", "eval_data": "", "quantize": "none",
                               "normalize": "", "steps": None, "labels": None}
"""Values a caption leaves out: the defaults every study starts from (λ is always stated)."""
COST = ("step_s", "finetune_s")


def _pairs(records: Sequence[CellRecord], field: str, a: Any, b: Any,
           metrics: Sequence[str] = QUALITY) -> list[Paired]:
    return [p for m in metrics for p in paired(records, metric=m, field=field, a=a, b=b,
                                                  higher_is_better=metric_info(m).higher_is_better)]


def _values(records: Sequence[CellRecord], field: str) -> list[Any]:
    return list(dict.fromkeys(getattr(r.cell, field) for r in records))


def knowledge_vs_magnitude(records: Sequence[CellRecord]) -> list[Paired]:
    return _pairs(records, "method", "knowledge", "magnitude")


def knowledge_vs_others(records: Sequence[CellRecord]) -> list[Paired]:
    return [p for m in _values(records, "method") if m not in ("knowledge", FULL)
            for p in _pairs(records, "method", "knowledge", m, ACCURACY)]


def criteria_and_normalisations(records: Sequence[CellRecord]) -> list[Paired]:
    """Knowledge against every other criterion (per normalisation), then each normalisation
    against per-pool rescaling (per criterion)."""
    return knowledge_vs_others(records) + [
        p for n in _values(records, "normalize") if n not in ("tower_kind", "")
        for p in _pairs(records, "normalize", n, "tower_kind", ACCURACY)]


def label_free_pairs(records: Sequence[CellRecord]) -> list[Paired]:
    """Each unlabeled criterion against every other scoring condition, same seeds and ratio."""
    conditions = list(dict.fromkeys((r.cell.method, r.cell.labels) for r in records
                                    if r.cell.method != FULL))
    return [p for method, labels in conditions if labels == 0
            for other in conditions if other != (method, labels)
            for m in ACCURACY
            for p in paired_variants(records, metric=m, a={"method": method, "labels": 0},
                                     b={"method": other[0], "labels": other[1]},
                                     name="condition",
                                     labels=(condition(method, 0), condition(*other)),
                                     higher_is_better=True)]


def with_vs_without_loss(records: Sequence[CellRecord]) -> list[Paired]:
    return [p for lam in sorted(_values(records, "lam")) if lam > 0
            for p in _pairs(records, "lam", lam, 0.0)]


def loss_cost(records: Sequence[CellRecord]) -> list[Paired]:
    return [p for lam in sorted(_values(records, "lam")) if lam > 0
            for p in _pairs(records, "lam", lam, 0.0, COST)]


def partial_vs_full_coverage(records: Sequence[CellRecord]) -> list[Paired]:
    return [p for c in sorted(_values(records, "coverage")) if c < 1.0
            for p in _pairs(records, "coverage", c, 1.0)]


def int8_vs_float(records: Sequence[CellRecord]) -> list[Paired]:
    """What 8 bits cost and buy, per method and ratio; then knowledge vs magnitude."""
    return (_pairs(records, "quantize", "int8", "none", ("accuracy", "speedup", "memory_mb"))
            + knowledge_vs_magnitude(records))


def pruned_vs_full(records: Sequence[CellRecord]) -> list[Paired]:
    return [p for m in _values(records, "method") if m != FULL
            for p in _pairs(records, "method", m, FULL)]


@dataclass(frozen=True, slots=True)
class StudyLayout:
    metrics: tuple[str, ...]
    """The main table's metric columns, where measured."""
    comparisons: Comparisons


LAYOUTS: Mapping[str, StudyLayout] = {
    "sweep": StudyLayout(("params_removed", *COLUMNS, "speedup", "memory_mb"),
                         knowledge_vs_others),
    "ablate-loss": StudyLayout(COLUMNS, with_vs_without_loss),
    "ablate-importance": StudyLayout(("params_removed", *COLUMNS, "importance_s"),
                                     criteria_and_normalisations),
    "budget": StudyLayout(("params_removed", *COLUMNS, "finetune_s"), knowledge_vs_others),
    "label-free": StudyLayout(("params_removed", *COLUMNS, "importance_s"), label_free_pairs),
    "ablate-coverage": StudyLayout(COLUMNS, partial_vs_full_coverage),
    "sensitivity": StudyLayout(COLUMNS, pruned_vs_full),
    "cross-domain": StudyLayout(COLUMNS, knowledge_vs_magnitude),
    "quantize": StudyLayout(("accuracy", "test_ce", "memory_mb", "speedup", "latency_ms_b1",
                             "params_removed"), int8_vs_float),
    "overhead": StudyLayout(("importance_s", "finetune_s", "step_s"), loss_cost),
}


def layout_of(study: str, groups: Sequence[Group]) -> StudyLayout:
    """The study's layout; a study without one shows every metric and compares nothing."""
    if study in LAYOUTS:
        return LAYOUTS[study]
    return StudyLayout(tuple(ordered_metrics({m for g in groups for m in g.stats})),
                       lambda records: [])


def varying_fields(groups: Sequence[Group]) -> list[str]:
    """Method and compression always; other cell fields where the pruned groups differ (the
    full model's fields are normalised away, so it would make every field look varied)."""
    pruned = [g for g in groups if g.fields["method"] != FULL] or list(groups)
    return [f for f in FIELD_LABELS if f in ("method", "ratio")
            or len({g.fields[f] for g in pruned}) > 1]


def main_table(study: str, groups: Sequence[Group]) -> ReportTable:
    fields = varying_fields(groups)
    present = {m for g in groups for m in g.stats}
    metrics = [m for m in layout_of(study, groups).metrics if m in present]
    rows = tuple(tuple(field_text(g, f) for f in fields) + (str(len(g.seeds)),)
                 + tuple(format_stat(g.stats.get(m), m) for m in metrics) for g in groups)
    caption = ("Mean ± half-width of the 95% t-interval over n seeds. Compression is the share "
               "of prunable units' parameters removed; params removed (all) the share of all "
               "parameters. One-shot: right after pruning, before fine-tuning; accuracy and "
               "test CE (cross-entropy, nats) without a prefix: after fine-tuning.")
    pruned = [g for g in groups if g.fields["method"] != FULL]
    if pruned:
        constant = [f for f in FIELD_LABELS if f not in fields
                    and pruned[0].fields[f] != UNSTATED.get(f, ...)]
        if constant:
            caption += f" Every pruned cell: {describe_fields(pruned[0].fields, constant)}."
    title = "Table 1: methods by compression" if study == "sweep" else f"{study}: results"
    return ReportTable(title, tuple(FIELD_LABELS[f] for f in fields) + ("n",)
                       + tuple(metric_info(m).label for m in metrics), rows, caption,
                       text_columns=len(fields))


def domain_table(groups: Sequence[Group], metric: str = "accuracy") -> ReportTable | None:
    """Table 2's layout: one row per method and ratio, one column per evaluation set."""
    sets = list(dict.fromkeys(g.fields["eval_data"] for g in groups if metric in g.stats))
    if len(sets) < 2:
        return None
    rows: dict[tuple[str, float], dict[str, str]] = {}
    for g in groups:
        if metric in g.stats:
            row = rows.setdefault((g.fields["method"], g.fields["ratio"]), {})
            row[g.fields["eval_data"]] = with_ce(g, metric, "test_ce")
    return ReportTable(
        f"{metric_info(metric).label} by evaluation set (Table 2 layout)",
        ("method", "compression", *sets),
        tuple((m, format_field("ratio", r), *(row.get(s, "–") for s in sets))
              for (m, r), row in rows.items()),
        "Mean ± half-width of the 95% t-interval over seeds · test CE (mean).", text_columns=2)


def overhead_table(groups: Sequence[Group]) -> ReportTable | None:
    """Importance time against fine-tuning time, and step time against λ = 0 (same method)."""
    rows = []
    for g in groups:
        if "step_s" not in g.stats and "importance_s" not in g.stats:
            continue
        base = next((h for h in groups if h.fields["lam"] == 0.0
                     and {k: v for k, v in h.fields.items() if k != "lam"}
                     == {k: v for k, v in g.fields.items() if k != "lam"}), None)
        step = (f"{g.stats['step_s'].mean / base.stats['step_s'].mean - 1:+.1%}"
                if base is not None and "step_s" in g.stats and "step_s" in base.stats
                and g is not base else "–")
        share = (f"{g.stats['importance_s'].mean / g.stats['finetune_s'].mean:.1%}"
                 if "importance_s" in g.stats and g.stats.get("finetune_s")
                 and g.stats["finetune_s"].mean > 0 else "–")
        rows.append((g.fields["method"], format_field("lam", g.fields["lam"]), step, share))
    if not rows:
        return None
    return ReportTable("Overhead", ("method", "λ", "step time vs λ = 0",
                                    "importance / fine-tuning time"), tuple(rows),
                       "Ratios of means over seeds (a cell's step time is the median of its "
                       "steps); the paper reports +12% per step for the knowledge loss and +18% "
                       "training time for importance estimation.",
                       text_columns=2)


EXTRA_TABLES: Mapping[str, tuple[Callable[[Sequence[Group]], ReportTable | None], ...]] = {
    "sweep": (rank_table,),
    "ablate-importance": (rank_table,),
    "label-free": (label_free_table, rank_table),
    "budget": (budget_table,),
    "cross-domain": (domain_table,),
    "overhead": (overhead_table,),
}


def study_tables(study: str, groups: Sequence[Group]) -> list[ReportTable]:
    tables = [main_table(study, groups)]
    for extra in EXTRA_TABLES.get(study, ()):
        if (table := extra(groups)) is not None:
            tables.append(table)
    return tables
