"""Means, spreads, t-intervals and paired comparisons, checked against numbers worked by hand."""

from __future__ import annotations

import math

import pytest

from kgprune.experiments.aggregate import groups, paired, summarize, t_quantile
from kgprune.experiments.records import CellRecord
from kgprune.experiments.spec import FULL, Cell

# Student's t 0.975 quantiles from printed tables
T975 = {1: 12.706205, 2: 4.302653, 3: 3.182446, 4: 2.776445, 9: 2.262157, 29: 2.045230,
        120: 1.979930}


def _record(method: str, seed: int, accuracy: float, ratio: float = 0.3,
            hallucination: float | None = None) -> CellRecord:
    metrics = {"accuracy": accuracy}
    if hallucination is not None:
        metrics["hallucination"] = hallucination
    return CellRecord(Cell("sweep", method, ratio, seed, 0.5), metrics, {}, 1.0, "t")


@pytest.mark.parametrize(("df", "expected"), sorted(T975.items()))
def test_t_quantile_matches_the_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=1e-6)


def test_summary_of_four_values_by_hand() -> None:
    stat = summarize([1.0, 2.0, 3.0, 4.0])
    std = math.sqrt(5 / 3)  # squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, over n - 1 = 3
    half = T975[3] * std / 2
    assert (stat.n, stat.mean) == (4, 2.5)
    assert stat.std == pytest.approx(1.2909944)
    assert stat.half_width == pytest.approx(half) == pytest.approx(2.0542, abs=1e-4)
    assert (stat.low, stat.high) == (pytest.approx(2.5 - half), pytest.approx(2.5 + half))


def test_one_value_has_a_mean_and_no_spread() -> None:
    stat = summarize([7.5])
    assert (stat.n, stat.mean, stat.std, stat.low, stat.high) == (1, 7.5, None, None, None)
    assert stat.to_dict() == {"n": 1, "mean": 7.5, "std": None, "ci_low": None, "ci_high": None}


def test_groups_join_everything_but_the_seed() -> None:
    records = [_record("knowledge", s, a) for s, a in enumerate((70.0, 72.0, 71.0))]
    records += [_record("knowledge", 0, 60.0, ratio=0.5), _record("magnitude", 0, 65.0)]
    records.append(_record("knowledge", 2, 74.0))  # a rerun of a cell: the last record counts
    found = groups(records)
    assert [(g.fields["method"], g.fields["ratio"], g.seeds) for g in found] == [
        ("knowledge", 0.3, (0, 1, 2)), ("knowledge", 0.5, (0,)), ("magnitude", 0.3, (0,))]
    first = found[0].stats["accuracy"]
    assert first.mean == pytest.approx(72.0) and first.std == pytest.approx(2.0)
    assert first.half_width == pytest.approx(T975[2] * 2.0 / math.sqrt(3))


def test_paired_difference_per_seed_by_hand() -> None:
    knowledge = [(70.0, 20.0), (72.0, 21.0), (71.0, 19.0)]
    magnitude = [(69.0, 20.5), (72.5, 21.0), (69.0, 19.5)]
    records = [_record("knowledge", s, a, hallucination=h) for s, (a, h) in enumerate(knowledge)]
    records += [_record("magnitude", s, a, hallucination=h) for s, (a, h) in enumerate(magnitude)]
    records.append(_record("knowledge", 3, 80.0))  # no magnitude for seed 3: not paired
    (acc,) = paired(records, metric="accuracy")
    diffs = [1.0, -0.5, 2.0]
    std = math.sqrt(sum((d - 2.5 / 3) ** 2 for d in diffs) / 2)
    assert acc.seeds == (0, 1, 2) and acc.fields["ratio"] == 0.3
    assert acc.diff.mean == pytest.approx(2.5 / 3) and acc.diff.std == pytest.approx(std)
    assert acc.diff.half_width == pytest.approx(T975[2] * std / math.sqrt(3))
    assert (acc.wins, acc.losses, acc.ties) == (2, 1, 0)
    (hall,) = paired(records, metric="hallucination", higher_is_better=False)
    assert hall.diff.mean == pytest.approx(-1 / 3)
    assert (hall.wins, hall.losses, hall.ties) == (2, 0, 1)  # lower hallucination wins


def test_paired_against_the_full_model_matches_its_normalised_cell() -> None:
    records = [_record(FULL, s, 75.0 + s) for s in (0, 1)]
    records += [_record("knowledge", s, 70.0 + 2 * s, ratio=r) for s in (0, 1) for r in (0.2, 0.5)]
    found = paired(records, metric="accuracy", a="knowledge", b=FULL)
    assert [(p.fields["ratio"], p.diff.mean) for p in found] == [(0.2, -4.5), (0.5, -4.5)]
    assert all((p.wins, p.losses) == (0, 2) for p in found)
