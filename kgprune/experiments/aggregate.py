"""Numbers over seeds: mean, spread and 95% t-interval per group, and paired comparisons.

A group is every cell that differs only in its seed. A paired comparison matches two variants
(knowledge-guided vs magnitude, λ > 0 vs λ = 0) on the same seed, where they share the trained
model and data order, so the interval is on the per-seed difference, which is much tighter than
comparing two independent means.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kgprune.experiments.records import CellRecord
from kgprune.experiments.spec import CELL_FIELDS

CONFIDENCE = 0.95
GROUP_FIELDS: tuple[str, ...] = tuple(f for f in CELL_FIELDS if f != "seed")


@dataclass(frozen=True, slots=True)
class Stat:
    """Mean over n values; std (sample, n - 1) and the 95% t-interval need n >= 2."""

    n: int
    mean: float
    std: float | None
    low: float | None
    high: float | None
    values: tuple[float, ...] = ()
    """The values summarised (figures draw ratio intervals and ranges from them)."""

    @property
    def half_width(self) -> float | None:
        return None if self.high is None else self.high - self.mean

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "std": self.std, "ci_low": self.low,
                "ci_high": self.high}


def summarize(values: Sequence[float], confidence: float = CONFIDENCE) -> Stat:
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return Stat(n, mean, None, None, None, tuple(values))
    std = statistics.stdev(values)
    half = t_quantile(0.5 + confidence / 2, n - 1) * std / math.sqrt(n)
    return Stat(n, mean, std, mean - half, mean + half, tuple(values))


def t_quantile(p: float, df: int) -> float:
    """The p-quantile of Student's t with df degrees of freedom (p > 0.5), by bisection on the
    CDF; exact to ~1e-10 without a SciPy dependency."""
    low, high = 0.0, 1.0
    while _t_cdf(high, df) < p:
        high *= 2
    for _ in range(100):
        mid = (low + high) / 2
        low, high = (mid, high) if _t_cdf(mid, df) < p else (low, mid)
    return (low + high) / 2


def _t_cdf(t: float, df: int) -> float:
    """P(T <= t) for t >= 0: 1 - I_x(df/2, 1/2) / 2 with x = df / (df + t²)."""
    return 1 - 0.5 * _beta_inc(df / 2, 0.5, df / (df + t * t))


def _beta_inc(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b) (Lentz's continued fraction)."""
    if x <= 0.0 or x >= 1.0:
        return max(0.0, min(1.0, x))
    if x > (a + 1) / (a + b + 2):
        return 1 - _beta_inc(b, a, 1 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return front * result / a


def latest(records: Iterable[CellRecord]) -> list[CellRecord]:
    """One record per cell (the last written), in the order cells first finished."""
    by_id: dict[str, CellRecord] = {}
    for record in records:
        by_id[record.cell_id] = record
    return list(by_id.values())


@dataclass(frozen=True, slots=True)
class Group:
    """The cells that differ only in their seed, and each metric summarised over them."""

    fields: Mapping[str, Any]
    seeds: tuple[int, ...]
    stats: Mapping[str, Stat]

    def to_dict(self) -> dict[str, Any]:
        fields = dict(self.fields)
        if fields["layer_range"] is not None:
            fields["layer_range"] = list(fields["layer_range"])
        return {"fields": fields, "seeds": list(self.seeds),
                "stats": {name: s.to_dict() for name, s in self.stats.items()}}


def group_key(record: CellRecord, without: Sequence[str] = ("seed",)) -> tuple[Any, ...]:
    return tuple(getattr(record.cell, f) for f in CELL_FIELDS if f not in without)


def groups(records: Iterable[CellRecord]) -> list[Group]:
    """Groups in the order their first cell finished; a metric is summarised over the seeds
    that reported it."""
    members: dict[tuple[Any, ...], list[CellRecord]] = {}
    for record in latest(records):
        members.setdefault(group_key(record), []).append(record)
    found = []
    for key, rows in members.items():
        names = dict.fromkeys(name for r in rows for name in r.metrics)
        stats = {name: summarize([r.metrics[name] for r in rows if name in r.metrics])
                 for name in names}
        found.append(Group(dict(zip(GROUP_FIELDS, key)), tuple(r.cell.seed for r in rows),
                           stats))
    return found


@dataclass(frozen=True, slots=True)
class Paired:
    """Variant `a` minus variant `b` of `field`, per seed, where both finished."""

    field: str
    a: Any
    b: Any
    metric: str
    higher_is_better: bool
    fields: Mapping[str, Any]
    """The fields both variants share (everything but `field` and the seed)."""
    diff: Stat
    wins: int
    losses: int
    ties: int
    seeds: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        fields = dict(self.fields)
        if fields.get("layer_range") is not None:
            fields["layer_range"] = list(fields["layer_range"])
        return {"field": self.field, "a": self.a, "b": self.b, "metric": self.metric,
                "higher_is_better": self.higher_is_better, "fields": fields,
                "diff": self.diff.to_dict(), "wins": self.wins, "losses": self.losses,
                "ties": self.ties, "seeds": list(self.seeds)}


def paired(records: Iterable[CellRecord], *, metric: str, field: str = "method",
           a: Any = "knowledge", b: Any = "magnitude",
           higher_is_better: bool = True) -> list[Paired]:
    """One comparison per setting of the other fields (e.g. per ratio), over matched seeds.
    The `b` cell is `a`'s cell with `field` set to `b`, normalised as cells are, so `b` may be
    the full model or full coverage, which have no ratio or strategy of their own."""
    return paired_variants(records, metric=metric, a={field: a}, b={field: b}, name=field,
                           labels=(a, b), higher_is_better=higher_is_better)


def paired_variants(records: Iterable[CellRecord], *, metric: str, a: Mapping[str, Any],
                    b: Mapping[str, Any], name: str, labels: tuple[Any, Any],
                    higher_is_better: bool = True) -> list[Paired]:
    """Like `paired`, for variants that differ in several fields (e.g. knowledge on no labels
    against task on 16): `a` cells are those with all of `a`'s values, each matched with itself
    changed to `b`'s values. `name` and `labels` say what the comparison is called."""
    rows = [r for r in latest(records) if metric in r.metrics]
    by_cell = {r.cell: r for r in rows}
    changed = tuple(dict.fromkeys([*a, *b]))
    diffs: dict[tuple[Any, ...], list[tuple[int, float]]] = {}
    for record in rows:
        if any(getattr(record.cell, f) != v for f, v in a.items()):
            continue
        other = by_cell.get(replace(record.cell, **b))
        if other is not None and other is not record:
            diffs.setdefault(group_key(record, (*changed, "seed")), []).append(
                (record.cell.seed, record.metrics[metric] - other.metrics[metric]))
    names = [f for f in CELL_FIELDS if f not in (*changed, "seed")]
    found = []
    for key, pairs in diffs.items():
        values = [d for _, d in pairs]
        better = [d if higher_is_better else -d for d in values]
        found.append(Paired(name, labels[0], labels[1], metric, higher_is_better,
                            dict(zip(names, key)), summarize(values),
                            sum(d > 0 for d in better), sum(d < 0 for d in better),
                            sum(d == 0 for d in better), tuple(s for s, _ in pairs)))
    return found
