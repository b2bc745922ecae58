"""The tables of the studies that compare importance criteria: accuracy by fine-tuning budget,
by label-free scoring condition, and the criteria's rank agreement (with themselves on other
samples: the noise floor; and with each other)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kgprune.experiments.aggregate import Group
from kgprune.experiments.spec import DATA_FREE, FULL
from kgprune.experiments.tables import (
    FIELD_LABELS,
    RANK_PREFIX,
    ReportTable,
    format_field,
    format_stat,
    format_value,
    metric_info,
)


def condition(method: str, labels: int | None) -> str:
    """A scoring condition as the label-free tables name it."""
    if method == FULL or method in DATA_FREE:
        return method if method == FULL else f"{method} (no data)"
    if labels is None:
        return f"{method}, all scoring samples labelled"
    return f"{method}, no labels" if labels == 0 else f"{method}, {labels} labels"


def field_text(group: Group, field: str) -> str:
    """A cell field as the main table shows it: what pruning does not apply to the full model,
    and labels to a method that reads no data, show as '–'."""
    method = group.fields["method"]
    if (method == FULL and field in ("normalize", "steps", "labels")) or \
            (field == "labels" and method in DATA_FREE):
        return "–"
    return format_field(field, group.fields[field])


def with_ce(group: Group, accuracy: str, ce: str) -> str:
    if accuracy not in group.stats:
        return "–"
    text = format_stat(group.stats[accuracy], accuracy)
    return text if ce not in group.stats else f"{text} · {format_value(group.stats[ce].mean, ce)}"


def budget_table(groups: Sequence[Group]) -> ReportTable | None:
    """Accuracy by fine-tuning steps per round (0: one-shot), per method and ratio, and how far
    apart the methods stay: a budget that returns every method to the same accuracy hides
    the criteria."""
    pruned = [g for g in groups if g.fields["method"] != FULL and g.fields["steps"] is not None]
    budgets = sorted({g.fields["steps"] for g in pruned})
    if not budgets:
        return None
    cells: dict[tuple[str, float], dict[int, Group]] = {}
    for g in pruned:
        cells.setdefault((g.fields["method"], g.fields["ratio"]), {})[g.fields["steps"]] = g
    rows = []
    for (method, ratio), by_steps in cells.items():
        first = by_steps[min(by_steps)]
        rows.append((method, format_field("ratio", ratio),
                     with_ce(first, "oneshot_accuracy", "oneshot_ce"),
                     *(with_ce(by_steps[b], "accuracy", "test_ce") if b in by_steps else "–"
                       for b in budgets)))
    for ratio in dict.fromkeys(r for _, r in cells):
        spread = []
        for b in (None, *budgets):
            metric = "oneshot_accuracy" if b is None else "accuracy"
            means = [by[min(by) if b is None else b].stats[metric].mean
                     for (_, r), by in cells.items() if r == ratio
                     and (b is None or b in by) and metric in by[min(by) if b is None else b].stats]
            spread.append(format_value(max(means) - min(means), "accuracy") if means else "–")
        rows.append(("spread (max − min)", format_field("ratio", ratio), *spread))
    full = next((g for g in groups if g.fields["method"] == FULL), None)
    caption = ("Accuracy (%) mean ± 95% t half-width over seeds · test CE (mean). Spread: best "
               "minus worst method mean.")
    if full is not None:
        caption += f" Full model: {with_ce(full, 'accuracy', 'test_ce')}."
    return ReportTable("Accuracy by fine-tuning budget (steps per round)",
                       ("method", "compression", "0 (one-shot)", *(str(b) for b in budgets)),
                       tuple(rows), caption, text_columns=2)


def label_free_table(groups: Sequence[Group]) -> ReportTable | None:
    """One row per scoring condition, one-shot and fine-tuned accuracy per ratio."""
    pruned = [g for g in groups if g.fields["method"] != FULL]
    ratios = sorted({g.fields["ratio"] for g in pruned})
    if not any(g.fields["labels"] == 0 for g in pruned):
        return None
    rows: dict[str, dict[float, Group]] = {}
    for g in pruned:
        rows.setdefault(condition(g.fields["method"], g.fields["labels"]), {})[
            g.fields["ratio"]] = g
    columns = [f"{kind} {format_field('ratio', r)}" for r in ratios
               for kind in ("one-shot", "fine-tuned")]
    pairs = (("oneshot_accuracy", "oneshot_ce"), ("accuracy", "test_ce"))
    body = tuple((name, *(with_ce(by[r], metric, ce) if r in by else "–"
                          for r in ratios for metric, ce in pairs))
                 for name, by in rows.items())
    return ReportTable(
        "Label-free scoring: accuracy by scoring condition and compression",
        ("scoring", *columns), body,
        "Accuracy (%) mean ± 95% t half-width over seeds · test CE (mean). 'No labels': "
        "importance from questions and images only, KG-retrieved targets, human answers "
        "withheld (any read raises); every method then gets the same labelled fine-tuning.")


def rank_table(groups: Sequence[Group]) -> ReportTable | None:
    """Rank agreement per criterion and scoring condition (ratio-independent: the first ratio's
    cells stand for all)."""
    measured = [g for g in groups if any(m == "rank_self" or m.startswith(RANK_PREFIX)
                                         for m in g.stats)]
    if not measured:
        return None
    others = sorted({m for g in measured for m in g.stats if m.startswith(RANK_PREFIX)})
    fields = [f for f in FIELD_LABELS if f not in ("method", "ratio")
              and len({g.fields[f] for g in measured}) > 1]
    seen: dict[tuple[Any, ...], Group] = {}
    for g in measured:
        seen.setdefault((g.fields["method"], *(g.fields[f] for f in fields)), g)
    rows = tuple((key[0], *(field_text(g, f) for f in fields),
                  str(len(g.seeds)), format_stat(g.stats.get("rank_self"), "rank_self"),
                  *(format_stat(g.stats.get(m), m) for m in others))
                 for key, g in seen.items())
    return ReportTable(
        "Rank agreement of importance (Spearman ρ, unpruned model)",
        ("method", *(FIELD_LABELS[f] for f in fields), "n", metric_info("rank_self").label,
         *(metric_info(m).label for m in others)), rows,
        "ρ of the planner's ranking values (score per cost, normalised as the plan is) over "
        "every unit; mean ± 95% t half-width over seeds. ρ self: the same criterion on as many "
        "other training samples (disjoint): the noise floor. Two criteria whose ρ with each "
        "other reaches their ρ self order the units alike as far as these samples can tell. "
        "Comparators are scored on all-labelled samples.",
        text_columns=1 + len(fields))
