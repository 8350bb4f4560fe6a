"""The multi-node storm's figures (tests/integration/order_storm.py), derived from attempts alone."""

from __future__ import annotations

from tests.integration.order_storm import Attempt, StormRecord


def ok(sku: str, ended: float, status: int | None = 201, started: float = 0.0) -> Attempt:
    return Attempt(f"o-{ended}", (sku,), started, ended, status)


def test_the_failover_time_is_the_longest_gap_between_answered_orders_of_a_sku_from_the_fault_on() -> None:
    record = StormRecord(attempts=[ok("X", t) for t in (1.0, 2.0, 6.5, 7.0)] + [ok("Y", 1.0), ok("Y", 7.5)])
    assert record.failover_gaps(1.5, 8.0) == {"X": 4.5, "Y": 6.0}


def test_a_sku_never_answered_after_the_fault_counts_the_whole_window() -> None:
    record = StormRecord(attempts=[ok("X", 1.0), ok("X", 9.0, status=503)])
    assert record.failover_gaps(2.0, 10.0) == {"X": 8.0}


def test_the_slowest_503_and_the_attempts_over_a_limit_are_read_from_the_attempts() -> None:
    record = StormRecord(attempts=[ok("X", 4.0, 503, 1.0), ok("X", 2.0, 503), ok("X", 8.0, None, 1.0)])
    assert record.slowest(503) == 3.0
    assert [a.seconds for a in record.over(5.0)] == [7.0]


def test_a_sku_sold_out_when_the_last_answer_reserving_some_of_it_came() -> None:
    record = StormRecord(attempts=[ok("X", 1.0), ok("X", 2.0)],
                         answers={"o-1.0": [{"lines": [{"sku": "X", "reserved": 2}]}],
                                  "o-2.0": [{"lines": [{"sku": "X", "reserved": 0}]}]})
    assert record.last_reserved() == {"X": 1.0}
