"""Spearman's rho with ties, and rank agreement over a model's value maps."""

from __future__ import annotations

import pytest

from kgprune.experiments.ranks import average_ranks, rank_agreement, spearman


def test_average_ranks_share_ties() -> None:
    assert average_ranks([10.0, 30.0, 20.0, 30.0]) == [1.0, 3.5, 2.0, 3.5]


def test_spearman_matches_hand_computed_values() -> None:
    assert spearman([1, 2, 3, 4, 5], [2, 4, 6, 8, 100]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (1,2,3,4,5) vs (2,1,4,3,5): d² = 1+1+1+1+0 = 4, rho = 1 - 6·4 / (5·24) = 0.8
    assert spearman([1, 2, 3, 4, 5], [20, 10, 40, 30, 50]) == pytest.approx(0.8)
    # with ties: ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4): Pearson of the ranks
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(4.5 / (4.5 * 5) ** 0.5)
    assert spearman([1, 1, 1], [1, 2, 3]) == 0.0
    with pytest.raises(ValueError, match="equal-length"):
        spearman([1, 2], [1, 2, 3])


def test_rank_agreement_lines_groups_up_by_key() -> None:
    a = {"b.mlp": [1.0, 2.0], "a.attn": [3.0, 4.0, 5.0]}
    b = {"a.attn": [3.0, 4.0, 5.0], "b.mlp": [1.0, 2.0]}
    assert rank_agreement(a, b) == pytest.approx(1.0)
    swapped = {"a.attn": [3.0, 4.0, 5.0], "b.mlp": [2.0, 1.0]}
    assert rank_agreement(a, swapped) == pytest.approx(1 - 6 * 2 / (5 * 24))
    with pytest.raises(ValueError, match="different groups"):
        rank_agreement(a, {"a.attn": [1.0, 2.0, 3.0]})
