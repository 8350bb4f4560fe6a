"""The side-by-side benchmark (and its bare-app twin) compares each pair of runs, second count over first, and skips a pair
whose first run answered nothing; each side may have its own web process and shard counts."""

from __future__ import annotations

import pytest

from tests.benchmark.__main__ import _parse_args as benchmark_args
from tests.benchmark.bare_workers import _parse_args as bare_args
from tests.benchmark.side_by_side import _parse_args, pair_ratios

pytestmark = pytest.mark.unit


def test_each_pair_is_the_second_run_over_the_first_with_their_median_and_mean() -> None:
    found = pair_ratios([1000.0, 1200.0, 800.0], [900.0, 1260.0, 800.0])
    assert found == {"ratios": [0.9, 1.05, 1.0], "median": 1.0, "mean": 0.983}


def test_a_pair_whose_first_run_answered_nothing_is_left_out() -> None:
    assert pair_ratios([0.0, 1000.0], [500.0, 950.0])["ratios"] == [0.95]
    assert pair_ratios([0.0], [10.0]) == {"ratios": [], "median": None, "mean": None}


def test_each_side_has_its_web_process_count_and_its_shard_count_or_the_services_default() -> None:
    default = _parse_args([])
    assert (default.web_workers, default.shards) == ([1, 2], [None, None])
    chosen = _parse_args(["--web-workers", "1,1", "--shards", "2,1", "--pairs", "3"])
    assert (chosen.web_workers, chosen.shards, chosen.pairs) == ([1, 1], [2, 1], 3)
    assert default.rate is None and _parse_args(["--rate", "900"]).rate == 900


@pytest.mark.parametrize("argv", [["--shards", "2"], ["--shards", "0,1"], ["--web-workers", "1,x"], ["--pairs", "0"],
                                  ["--rate", "0"], ["--rate", "-5"]])
def test_a_count_that_is_not_two_counts_of_one_or_more_or_a_rate_not_above_0_is_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        _parse_args(argv)


def test_the_benchmarks_web_process_counts_are_any_number_of_counts_of_one_or_more() -> None:
    assert benchmark_args(["--web-workers", "1,2,4"]).web_workers == [1, 2, 4]
    for wrong in ("0", "1,", "two", "1,-2"):
        with pytest.raises(SystemExit):
            benchmark_args(["--web-workers", wrong])


def test_the_bare_app_comparison_takes_two_process_counts_and_a_positive_rate() -> None:
    assert bare_args([]).processes == [1, 2] and bare_args(["--processes", "2,4"]).processes == [2, 4]
    for wrong in (["--processes", "2"], ["--processes", "0,1"], ["--pairs", "0"], ["--rate", "0"], ["--clients", "0"]):
        with pytest.raises(SystemExit):
            bare_args(wrong)
