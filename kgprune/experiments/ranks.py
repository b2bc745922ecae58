"""Rank agreement of importance scores: how alike two criteria order the units, and how alike one
criterion orders them on two disjoint sets of samples (its noise floor: a difference between
criteria smaller than a criterion's disagreement with itself is noise)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def average_ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks; tied values share the mean of the ranks they span."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's rho (Pearson correlation of average ranks); 0 when either side is constant."""
    if len(a) != len(b) or len(a) < 2:
        raise ValueError(f"spearman needs two equal-length sequences of 2 or more, got "
                         f"{len(a)} and {len(b)}")
    ra, rb = average_ranks(a), average_ranks(b)
    mean = (len(a) + 1) / 2
    cov = sum((x - mean) * (y - mean) for x, y in zip(ra, rb, strict=True))
    var_a = sum((x - mean) ** 2 for x in ra)
    var_b = sum((y - mean) ** 2 for y in rb)
    return cov / math.sqrt(var_a * var_b) if var_a > 0 and var_b > 0 else 0.0


def flat(values: Mapping[str, Sequence[float]]) -> list[float]:
    """Every unit's value in group-key order, so two value maps of one model line up."""
    return [v for key in sorted(values) for v in values[key]]


def rank_agreement(a: Mapping[str, Sequence[float]], b: Mapping[str, Sequence[float]]) -> float:
    """Spearman's rho over every unit of two value maps of the same model (non-finite values,
    e.g. zero-cost units, rank as the largest)."""
    if sorted(a) != sorted(b):
        raise ValueError(f"the value maps cover different groups: {sorted(a)} vs {sorted(b)}")
    return spearman([_finite(v) for v in flat(a)], [_finite(v) for v in flat(b)])


def _finite(value: float) -> float:
    return value if math.isfinite(value) else math.inf
