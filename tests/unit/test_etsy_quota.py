"""How the Etsy connector reads a 429 that carries no counts: by the counts it saw last."""

from __future__ import annotations

from connectors.etsy_quota import BUSY_WAIT_MOST, SPENT_AFTER, QuotaWatch


def counts(second: int, today: int) -> dict[str, str]:
    return {"x-limit-per-second": "10", "x-remaining-this-second": str(second),
            "x-limit-per-day": "10000", "x-remaining-today": str(today)}


def test_a_429_in_the_second_whose_calls_were_spent_is_a_busy_second() -> None:
    watch = QuotaWatch(spent_day_wait=1800)
    watch.answered(counts(second=1, today=9_000), at=100.0)
    watch.sent()
    throttle = watch.throttled(at=100.2)
    assert (throttle.wait, throttle.day_spent) == (1.0, False)


def test_a_429_when_the_day_had_next_to_nothing_left_is_a_spent_day() -> None:
    watch = QuotaWatch(spent_day_wait=1800)
    watch.answered(counts(second=9, today=3), at=100.0)
    throttle = watch.throttled(at=250.0)
    assert (throttle.wait, throttle.day_spent) == (1800, True)
    assert "x-remaining-today was 3" in throttle.reason


def test_our_own_calls_since_the_last_count_spend_the_day_too() -> None:
    watch = QuotaWatch()
    watch.answered(counts(second=9, today=40), at=100.0)
    for _ in range(35):
        watch.sent()
    assert watch.left_today == 5
    assert watch.throttled(at=200.0).day_spent


def test_busy_seconds_in_a_row_wait_longer_each_time_and_a_success_starts_over() -> None:
    watch = QuotaWatch()
    watch.answered(counts(second=5, today=9_000), at=0.0)
    waits = [watch.throttled(at=10.0 + n).wait for n in range(SPENT_AFTER - 1)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0] and max(waits) <= BUSY_WAIT_MOST
    watch.answered(counts(second=5, today=8_990), at=40.0)
    assert watch.throttled(at=41.5).wait == 1.0


def test_429s_that_go_on_with_the_day_seemingly_full_are_taken_for_a_spent_day() -> None:
    watch = QuotaWatch(spent_day_wait=900)
    watch.answered(counts(second=5, today=9_000), at=0.0)   # another tool on the key spends the rest
    throttles = [watch.throttled(at=10.0 + n) for n in range(SPENT_AFTER)]
    assert [t.day_spent for t in throttles] == [False] * (SPENT_AFTER - 1) + [True]
    assert throttles[-1].wait == 900


def test_an_answer_without_counts_keeps_the_last_ones() -> None:
    watch = QuotaWatch()
    watch.answered(counts(second=5, today=2), at=0.0)
    watch.answered({}, at=1.0)   # the OAuth token endpoint
    assert watch.left_today == 2
