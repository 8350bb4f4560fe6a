"""sync/buffers: `buffer: auto` sized per listing from its sales speed and the partner's sync lag."""

from __future__ import annotations

import math

import pytest

from sync.buffers import AdaptiveBuffers, AutoBuffer, SalesSpeed, buffer_size, units_within
from sync.rules import ShowRule
from tests.unit.fake_clock import Clock

RULE = AutoBuffer(minimum=0, maximum=5, window_s=20.0, confidence=0.9)


def buffers_with_lag(clock: Clock, lag_s: float, rule: AutoBuffer = RULE) -> AdaptiveBuffers:
    buffers = AdaptiveBuffers(rule, clock=clock)
    for _ in range(10):
        buffers.pushed(lag_s)
    return buffers


def test_the_buffer_covers_the_sales_within_the_lag_with_the_configured_confidence() -> None:
    # Poisson(1.52): P(N <= 2) = 0.80, P(N <= 3) = 0.93
    assert units_within(0.8 * 1.9, 0.9, limit=10) == 3
    assert units_within(0.8 * 1.9, 0.75, limit=10) == 2
    assert units_within(0.0, 0.9, limit=10) == 0


def test_a_listing_that_does_not_sell_keeps_only_the_floor() -> None:
    assert buffer_size(0.0, 1.9, RULE) == 0
    assert buffer_size(0.0, 1.9, AutoBuffer(minimum=1, maximum=5)) == 1
    assert AdaptiveBuffers(RULE, clock=Clock()).size("never-sold") == 0


def test_the_buffer_never_passes_its_ceiling_nor_drops_under_its_floor() -> None:
    assert buffer_size(50.0, 2.0, RULE) == 5
    assert buffer_size(0.01, 0.2, AutoBuffer(minimum=2, maximum=4)) == 2


def test_one_sale_now_and_then_holds_nothing_back() -> None:
    clock = Clock()
    buffers = buffers_with_lag(clock, 0.4)
    for _ in range(5):
        buffers.sold("SHEET-Q", 1)
        clock.advance(60)
    assert buffers.size("SHEET-Q") == 0


def test_a_burst_raises_the_buffer_within_a_few_sales() -> None:
    clock = Clock()
    buffers = buffers_with_lag(clock, 1.5)
    for _ in range(8):   # 2 units a second for 4 s
        buffers.sold("SHEET-Q", 1)
        clock.advance(0.5)
    assert buffers.rate("SHEET-Q") == pytest.approx(8 / 20 * math.exp(-0.5 / 20), rel=0.1)
    assert buffers.size("SHEET-Q") == 2
    assert buffers.size("PILLOW-S") == 0    # per listing: the quiet one is not held back


def test_after_the_burst_the_buffer_decays_back_to_the_floor() -> None:
    clock = Clock()
    buffers = buffers_with_lag(clock, 1.5)
    for _ in range(40):
        buffers.sold("SHEET-Q", 1)
        clock.advance(0.25)
    during = buffers.size("SHEET-Q")
    assert during >= 4
    clock.advance(30)
    assert 0 < buffers.size("SHEET-Q") < during
    clock.advance(120)
    assert buffers.size("SHEET-Q") == 0


def test_a_longer_sync_lag_means_a_larger_buffer() -> None:
    clock = Clock()
    fast, slow = buffers_with_lag(clock, 0.2), buffers_with_lag(clock, 1.6)
    for _ in range(10):
        fast.sold("SHEET-Q", 1)
        slow.sold("SHEET-Q", 1)
        clock.advance(0.5)
    assert fast.size("SHEET-Q") < slow.size("SHEET-Q")


def test_the_lag_is_a_high_quantile_of_the_latest_pushes_and_one_second_before_any() -> None:
    buffers = AdaptiveBuffers(RULE, clock=Clock())
    assert buffers.lag() == 1.0
    for lag in [0.2] * 90 + [1.5] * 10:
        buffers.pushed(lag)
    assert buffers.lag() == 1.5
    for _ in range(100):     # the old ones age out
        buffers.pushed(0.3)
    assert buffers.lag() == 0.3


def test_moved_names_the_listings_whose_buffer_changed_since_it_was_applied() -> None:
    clock = Clock()
    buffers = buffers_with_lag(clock, 1.5)
    assert buffers.size("SHEET-Q") == 0
    for _ in range(8):
        buffers.sold("SHEET-Q", 1)
        clock.advance(0.5)
    assert buffers.moved() == ["SHEET-Q"]
    buffers.size("SHEET-Q")
    assert buffers.moved() == []
    clock.advance(600)
    assert buffers.moved() == ["SHEET-Q"]
    buffers.size("SHEET-Q")
    assert buffers.moved() == []
    assert buffers.reasoning()["hottest"] == []   # gone quiet: forgotten


def test_the_reasoning_names_the_rule_the_lag_and_the_hottest_listings() -> None:
    clock = Clock()
    buffers = buffers_with_lag(clock, 1.5)
    for _ in range(8):
        buffers.sold("SHEET-Q", 1)
        clock.advance(0.5)
    buffers.sold("PILLOW-S", 1)
    why = buffers.reasoning()
    assert {k: why[k] for k in ("mode", "floor", "ceiling", "lag_s", "lag_measured",
                                "listings_above_floor")} == {
        "mode": "auto", "floor": 0, "ceiling": 5, "lag_s": 1.5, "lag_measured": True,
        "listings_above_floor": 1}
    assert [(h["sku"], h["units"]) for h in why["hottest"]] == [("SHEET-Q", 2)]
    assert why["channel_rate_per_s"] > why["hottest"][0]["rate_per_s"]


def test_sales_speed_decays_exponentially_over_its_window() -> None:
    speed = SalesSpeed(10.0, at=0.0)
    speed.sold(5, at=0.0)
    assert speed.rate(0.0) == pytest.approx(0.5)
    assert speed.rate(10.0) == pytest.approx(0.5 / math.e)


@pytest.mark.parametrize("bad", [dict(minimum=3, maximum=2), dict(minimum=-1), dict(window_s=0),
                                 dict(confidence=1.0), dict(confidence=0.0)])
def test_an_impossible_rule_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        AutoBuffer(**bad)  # type: ignore[arg-type]


def test_a_partner_whose_orders_are_polled_adds_the_wait_for_the_next_poll_to_its_lag() -> None:
    clock = Clock()
    webhook, polled = AdaptiveBuffers(RULE, clock=clock), AdaptiveBuffers(RULE, clock=clock, order_delay_s=2.5)
    for buffers in (webhook, polled):
        for _ in range(10):
            buffers.pushed(0.2)
    assert (webhook.lag(), polled.lag()) == (0.2, 2.7)
    for _ in range(4):
        webhook.sold("SHEET-Q", 1)
        polled.sold("SHEET-Q", 1)
        clock.advance(0.5)
    assert webhook.size("SHEET-Q") < polled.size("SHEET-Q")
    assert polled.reasoning()["push_lag_s"] == 0.2 and polled.reasoning()["order_delay_s"] == 2.5


def test_every_drop_of_the_available_pool_counts_as_units_gone_and_a_rise_does_not() -> None:
    clock = Clock()
    buffers = AdaptiveBuffers(RULE, clock=clock)
    buffers.seen("SHEET-Q", 10)        # the first look only remembers
    buffers.seen("SHEET-Q", 7)         # three sold (on any channel) or moved away
    buffers.seen("SHEET-Q", 30)        # received
    assert buffers.rate("SHEET-Q") == pytest.approx(3 / 20)
    assert buffers.available("SHEET-Q") == 30


def test_an_auto_buffer_hides_the_listing_once_the_pool_is_down_to_it_and_shows_the_rest_whole() -> None:
    rule = ShowRule(auto=RULE)
    assert [rule.shown(available, 2) for available in (0, 1, 2, 3, 10)] == [0, 0, 0, 3, 10]
    assert [rule.shown(available, 0) for available in (0, 1)] == [0, 1]
    assert ShowRule(pool_percent=50, max_shown=4, auto=RULE).shown(10, 2) == 4   # share, then buffer, then cap
    assert ShowRule(buffer=2).shown(10) == 8   # a fixed buffer still comes off every listing
