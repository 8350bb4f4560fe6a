"""sync/resilience and sync/calls: backoff with full jitter, the circuit breaker that isolates a
failing partner, and every partner call made through them."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable

import pytest

from connectors.base import PartnerError, PartnerRejected, RateLimited
from sync import calls as partner_calls
from sync.calls import PartnerCalls, PartnerDown
from sync.resilience import Backoff, CircuitBreaker
from sync.state import CONFIGURED, StoredState, _digest, kept
from tests.harness.secret_box import fresh_box
from tests.unit.fake_clock import Clock

# -- backoff ----------------------------------------------------------------------------------------


def test_the_backoff_ceiling_doubles_with_each_attempt_up_to_the_cap() -> None:
    backoff = Backoff(base=0.25, cap=2.0, rand=lambda: 1.0)
    assert [backoff.next_delay() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert backoff.attempt == 6


@pytest.mark.parametrize(("draw", "delay"), [(0.0, 0.0), (0.5, 2.0), (0.999, 3.996)])
def test_the_backoff_is_full_jitter_between_zero_and_the_ceiling(draw: float, delay: float) -> None:
    backoff = Backoff(base=1.0, cap=30.0, rand=lambda: draw)
    backoff.attempt = 2  # ceiling 4 s
    assert backoff.next_delay() == pytest.approx(delay)


def test_random_delays_stay_within_the_ceiling_of_their_attempt() -> None:
    backoff = Backoff(base=0.25, cap=30.0, rand=random.Random(7).random)
    delays = [backoff.next_delay() for _ in range(40)]
    ceilings = [min(30.0, 0.25 * 2**n) for n in range(40)]
    assert all(0.0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == 40  # jittered, not a fixed schedule


def test_a_reset_backoff_starts_again_from_the_base() -> None:
    backoff = Backoff(base=0.5, cap=30.0, rand=lambda: 1.0)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_the_backoff_stays_at_the_cap_through_a_very_long_outage() -> None:
    backoff = Backoff(base=0.25, cap=30.0, rand=lambda: 1.0)
    delays = [backoff.next_delay() for _ in range(1100)]
    assert delays[-1] == 30.0


# -- circuit breaker --------------------------------------------------------------------------------


def test_the_breaker_stays_closed_below_the_threshold() -> None:
    breaker = CircuitBreaker(threshold=3, clock=Clock())
    breaker.failure()
    breaker.failure()
    assert (breaker.state, breaker.allows(), breaker.wait(), breaker.trips) == ("closed", True, 0.0, 0)


def test_a_success_resets_the_count_of_consecutive_failures() -> None:
    breaker = CircuitBreaker(threshold=3, clock=Clock())
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed"
    breaker.failure()
    assert breaker.state == "open"


def test_the_breaker_opens_after_the_threshold_and_lets_one_trial_through_after_cool_off() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=3, cool_off=2.0, clock=clock)
    for _ in range(3):
        breaker.failure()
    assert (breaker.state, breaker.allows(), breaker.trips) == ("open", False, 1)
    assert breaker.wait() == 2.0
    clock.advance(1.5)
    assert (breaker.state, breaker.allows(), breaker.wait()) == ("open", False, 0.5)
    clock.advance(0.5)
    assert (breaker.state, breaker.allows(), breaker.wait()) == ("half_open", True, 0.0)
    breaker.success()
    assert (breaker.state, breaker.failures, breaker.trips) == ("closed", 0, 1)


def test_a_failed_trial_opens_the_breaker_again_for_twice_as_long_up_to_the_maximum() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cool_off=2.0, max_cool_off=5.0, clock=clock)
    breaker.failure()
    waits = []
    for _ in range(3):
        clock.advance(breaker.wait())
        assert breaker.state == "half_open"
        breaker.failure()
        assert breaker.state == "open"
        waits.append(breaker.wait())
    assert waits == [4.0, 5.0, 5.0]


def test_a_successful_trial_brings_back_the_first_cool_off() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cool_off=2.0, clock=clock)
    breaker.failure()
    clock.advance(2.0)
    breaker.failure()  # trial failed: 4 s now
    clock.advance(4.0)
    breaker.success()
    breaker.failure()
    assert (breaker.state, breaker.wait(), breaker.trips) == ("open", 2.0, 2)


def test_failures_while_open_do_not_extend_the_cool_off() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=2, cool_off=3.0, clock=clock)
    breaker.failure()
    breaker.failure()
    clock.advance(1.0)
    breaker.failure()  # a call that was already in flight when it opened
    assert (breaker.state, breaker.wait(), breaker.trips) == ("open", 2.0, 1)


def test_the_breaker_defaults_to_the_monotonic_clock() -> None:
    breaker = CircuitBreaker(threshold=1, cool_off=60.0)
    breaker.failure()
    assert breaker.state == "open"
    assert 59.0 < breaker.wait() <= 60.0


def test_half_open_lets_exactly_one_trial_through_until_its_outcome_is_known() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, cool_off=2.0, clock=clock)
    breaker.failure()
    assert not breaker.try_acquire()
    clock.advance(2.0)
    assert breaker.try_acquire()        # the trial
    assert not breaker.try_acquire()    # the other loop waits for it
    breaker.release()                   # it was rate limited: no verdict
    assert breaker.try_acquire()
    breaker.success()
    assert breaker.try_acquire() and breaker.try_acquire()


# -- partner calls ---------------------------------------------------------------------------------


def calls_with(clock: Clock, alerts: list[str]) -> PartnerCalls:
    async def alert(kind: str, key: str, message: str) -> None:
        alerts.append(kind)

    state = StoredState(None, "shop", {}, fresh_box())  # credentials never change here, so the store is not called
    return PartnerCalls("shop", "Shop", state, alert, CircuitBreaker(threshold=2, cool_off=1.0, clock=clock),
                        Backoff(rand=lambda: 0.0))


async def test_calls_open_the_circuit_with_one_alert_then_let_exactly_one_trial_through() -> None:
    clock, alerts = Clock(), []
    calls = calls_with(clock, alerts)

    async def fail() -> int:
        raise PartnerError("down")

    for _ in range(3):
        with pytest.raises((PartnerError, PartnerDown)):
            await calls.call("push", fail)
    assert (calls.breaker.state, alerts) == ("open", ["sync_failure"])
    clock.advance(1.0)
    answer = asyncio.Event()

    async def slow() -> int:
        await answer.wait()
        return 7

    trial = asyncio.ensure_future(calls.call("push", slow))
    await asyncio.sleep(0)
    with pytest.raises(PartnerDown):
        await calls.call("poll", slow)
    answer.set()
    assert await trial == 7
    assert calls.breaker.state == "closed"
    assert calls.figures() == {"errors_recent": 2, "last_error": "push: down"}


def sleeps_recorded(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sync's sleeps, recorded instead of slept."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(partner_calls.asyncio, "sleep", sleep)
    return slept


def answering(*answers: Exception | int) -> Callable[[], Awaitable[int]]:
    """A partner call that raises or returns each of `answers` in turn."""
    left = list(answers)

    async def answer() -> int:
        given = left.pop(0)
        if isinstance(given, Exception):
            raise given
        return given
    return answer


async def test_a_429_is_waited_out_as_told_and_is_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    slept = sleeps_recorded(monkeypatch)
    calls = calls_with(Clock(), [])
    assert await calls.call("push", answering(RateLimited("slow down", 2.5), 3)) == 3
    assert (slept, calls.rate_limited, calls.breaker.failures) == ([2.5], 1, 0)


async def test_a_429_that_asks_for_a_long_wait_is_alerted_and_shown_before_the_wait(
        monkeypatch: pytest.MonkeyPatch) -> None:
    slept = sleeps_recorded(monkeypatch)
    alerts: list[str] = []
    calls = calls_with(Clock(), alerts)
    assert await calls.call("push", answering(RateLimited("the day's calls are spent", 1800.0), 4)) == 4
    assert (slept, alerts, calls.breaker.failures) == ([1800.0], ["sync_failure"], 0)
    assert "day's calls are spent" in calls.figures()["last_error"]


async def test_a_call_the_partner_refuses_outright_says_why_on_the_status_and_leaves_the_breaker_closed() -> None:
    calls = calls_with(Clock(), [])

    async def refused() -> int:
        raise PartnerRejected("the server's host key is not the one configured")

    with pytest.raises(PartnerRejected):
        await calls.call("connect", refused)
    assert calls.breaker.state == "closed"
    assert calls.figures()["last_error"] == "connect: the server's host key is not the one configured"


def test_a_stored_credential_gives_way_to_a_configured_one_changed_since_but_a_rotated_token_stays() -> None:
    then = {"refresh_token": _digest("r1"), "host_key_fingerprint": _digest("SHA256:old")}
    saved = {"refresh_token": "r2-rotated", "host_key_fingerprint": "SHA256:old", "access_token": "a",
             CONFIGURED: json.dumps(then)}
    now = {"refresh_token": _digest("r1"), "host_key_fingerprint": _digest("SHA256:new")}
    assert kept(saved, now) == {"refresh_token": "r2-rotated", "access_token": "a"}
    legacy = {"refresh_token": "r2-rotated", "host_key_fingerprint": "SHA256:old"}
    assert kept(legacy, now) == legacy   # written before the digests: taken whole, as before
