"""The side-by-side benchmark compares each pair of runs, second count over first, and skips a pair
whose first run answered nothing."""

from __future__ import annotations

import pytest

from tests.benchmark.side_by_side import pair_ratios

pytestmark = pytest.mark.unit


def test_each_pair_is_the_second_run_over_the_first_with_their_median_and_mean() -> None:
    found = pair_ratios([1000.0, 1200.0, 800.0], [900.0, 1260.0, 800.0])
    assert found == {"ratios": [0.9, 1.05, 1.0], "median": 1.0, "mean": 0.983}


def test_a_pair_whose_first_run_answered_nothing_is_left_out() -> None:
    assert pair_ratios([0.0, 1000.0], [500.0, 950.0])["ratios"] == [0.95]
    assert pair_ratios([0.0], [10.0]) == {"ratios": [], "median": None, "mean": None}
