"""The benchmark's buffer comparison (tests/benchmark/buffers.py) runs and reports, on a tiny scenario."""

from __future__ import annotations

from tests.benchmark.buffers import PARTNERS, Scenario, buffer_lines, compare, demand

TINY = Scenario(skus=4, hot=2, stock=5, restock_s=5.0, burst=(10.0, 30.0), seconds=40.0, seeds=(1, 2),
                partners=PARTNERS[:2])


def test_the_comparison_covers_every_setting_with_the_sum_of_its_costs() -> None:
    found = compare(TINY)
    assert set(found["settings"]) == {"fixed 0", "fixed 3", "auto", "auto 3..3"}
    for figures in found["settings"].values():
        assert figures["sum"] == round(figures["oversold"] + figures["held_back"], 2)
        assert len(figures["oversold_per_seed"]) == 2
    assert found["settings"]["fixed 0"]["held_back"] == 0
    assert found["best"] in found["settings"]
    lines = "\n".join(buffer_lines(found))
    assert "SIMULATION" in lines and "fixed 3" in lines and "on the sum (best:" in lines


def test_every_setting_sees_the_same_demand_and_the_burst_is_on_the_hot_skus() -> None:
    first, again = demand(TINY, 1), demand(TINY, 1)
    assert first == again and first != demand(TINY, 2)
    in_burst = [sku for t, _, sku in first if TINY.burst[0] <= t < TINY.burst[1]]
    assert sum(sku < TINY.hot for sku in in_burst) > sum(sku >= TINY.hot for sku in in_burst)


def test_a_skipped_or_failed_comparison_says_so() -> None:
    assert buffer_lines(None)[-1].endswith("skipped")
    assert buffer_lines({"error": "boom"})[-1] == "  FAILED: boom"
