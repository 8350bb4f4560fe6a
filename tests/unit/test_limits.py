"""sync/limits: a partner's published rate kept on our side, and Retry-After honoured."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest

from connectors.amazon import AmazonConnector
from connectors.base import PartnerSpec
from connectors.limits import RateSpec
from connectors.square import SquareConnector
from connectors.wholesale import WholesaleConnector
from sync.limits import RateLimiter, TokenBucket
from tests.unit.fake_clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Slept(list[float]):
    """The limiter's sleep: time passes on the fake clock, at once; each wait is recorded."""

    def __init__(self, clock: Clock):
        super().__init__()
        self._clock = clock

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self._clock.advance(seconds)


@pytest.fixture
def slept(clock: Clock) -> Slept:
    return Slept(clock)


def test_a_scaled_spec_keeps_a_safety_margin_but_at_least_one_token_of_burst() -> None:
    assert RateSpec(10.0, 20.0).scaled(0.9) == RateSpec(9.0, 18.0)
    assert RateSpec(0.5, 1.0).scaled(0.9) == RateSpec(0.45, 1.0)


def test_a_full_bucket_allows_a_burst_then_asks_to_wait_for_the_next_token(clock: Clock) -> None:
    bucket = TokenBucket(RateSpec(rate=2.0, burst=3.0), clock)
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_take() == 0.5
    clock.advance(0.5)
    assert bucket.try_take() == 0.0


def test_a_refused_take_takes_nothing(clock: Clock) -> None:
    bucket = TokenBucket(RateSpec(rate=1.0, burst=2.0), clock)
    bucket.try_take()
    assert bucket.try_take(cost=2.0) == 1.0
    assert bucket.try_take(cost=1.0) == 0.0


def test_tokens_refill_at_the_published_rate_but_never_past_the_burst(clock: Clock) -> None:
    bucket = TokenBucket(RateSpec(rate=5.0, burst=3.0), clock)
    for _ in range(3):
        bucket.try_take()
    clock.advance(3_600)
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_take() == pytest.approx(0.2)


def test_a_bucket_made_empty_waits_for_its_first_token(clock: Clock) -> None:
    bucket = TokenBucket(RateSpec(rate=4.0, burst=10.0), clock, full=False)
    assert bucket.try_take() == 0.25
    assert bucket.used == 1.0


def test_retry_after_empties_the_bucket_and_blocks_until_it_passes(clock: Clock) -> None:
    bucket = TokenBucket(RateSpec(rate=2.0, burst=3.0), clock)
    bucket.block_for(5.0)
    assert bucket.try_take() == 5.0
    clock.advance(4.0)
    assert bucket.try_take() == 1.0
    clock.advance(1.0)
    assert bucket.try_take() == 0.0


def test_a_shorter_retry_after_does_not_shorten_an_earlier_one(clock: Clock) -> None:
    bucket = TokenBucket(RateSpec(rate=2.0, burst=3.0), clock)
    bucket.block_for(10.0)
    bucket.block_for(1.0)
    assert bucket.try_take() == 10.0


def test_used_is_the_share_of_the_bucket_in_use(clock: Clock) -> None:
    bucket = TokenBucket(RateSpec(rate=1.0, burst=4.0), clock)
    assert bucket.used == 0.0
    bucket.try_take()
    assert bucket.used == 0.25
    clock.advance(0.5)
    assert bucket.used == 0.125


def test_each_operation_has_its_own_bucket(clock: Clock) -> None:
    limiter = RateLimiter({"push": RateSpec(1.0, 1.0), "poll": RateSpec(1.0, 1.0)}, clock=clock)
    assert limiter.buckets["push"].try_take() == 0.0
    assert limiter.would_wait("push") is True
    assert limiter.would_wait("poll") is False


def test_an_operation_with_no_published_limit_is_free_without_a_default(clock: Clock) -> None:
    limiter = RateLimiter({"push": RateSpec(1.0, 1.0)}, clock=clock)
    assert limiter.bucket("report") is None
    assert limiter.would_wait("report") is False
    limiter.honour("report", 60.0)
    assert set(limiter.usage()) == {"push"}


def test_an_operation_with_no_published_limit_gets_the_default(clock: Clock) -> None:
    limiter = RateLimiter({}, default=RateSpec(2.0, 2.0), clock=clock)
    bucket = limiter.bucket("report")
    assert bucket is not None and bucket.spec == RateSpec(2.0, 2.0)
    assert limiter.bucket("report") is bucket
    assert limiter.usage() == {"report": 0.0}


def test_honour_blocks_only_the_operation_the_partner_named(clock: Clock) -> None:
    limiter = RateLimiter({"push": RateSpec(5.0, 5.0), "poll": RateSpec(5.0, 5.0)}, clock=clock)
    limiter.honour("push", 2.0)
    assert limiter.would_wait("push") is True
    assert limiter.would_wait("poll") is False
    clock.advance(2.0)
    assert limiter.would_wait("push") is False


def test_usage_reports_every_bucket_rounded_for_the_dashboard(clock: Clock) -> None:
    limiter = RateLimiter({"a": RateSpec(1.0, 3.0), "b": RateSpec(1.0, 1.0)}, clock=clock)
    limiter.buckets["a"].try_take()
    assert limiter.usage() == {"a": 0.333, "b": 0.0}


async def test_acquire_waits_exactly_until_a_token_is_there(clock: Clock, slept: Slept) -> None:
    limiter = RateLimiter({"push": RateSpec(rate=4.0, burst=2.0)}, clock=clock, sleep=slept)
    start = clock.now
    for _ in range(4):
        await limiter.acquire("push")
    assert slept == [0.25, 0.25]
    assert clock.now - start == 0.5
    assert limiter.waited == 0.5


async def test_acquire_waits_out_a_retry_after_first(clock: Clock, slept: Slept) -> None:
    limiter = RateLimiter({"push": RateSpec(rate=1.0, burst=1.0)}, clock=clock, sleep=slept)
    limiter.honour("push", 3.0)
    await limiter.acquire("push")
    assert slept == [3.0]
    assert limiter.would_wait("push") is True  # the token that came back was taken


async def test_acquire_never_waits_for_an_unlimited_operation(clock: Clock, slept: Slept) -> None:
    limiter = RateLimiter({}, clock=clock, sleep=slept)
    for _ in range(1_000):
        await limiter.acquire("anything")
    assert (slept, limiter.waited) == ([], 0.0)


def test_a_drained_limiter_makes_the_next_call_wait_a_whole_token() -> None:
    clock = Clock()
    limiter = RateLimiter({"patch": RateSpec(5.0, 5.0)}, clock=clock)
    limiter.drain()
    bucket = limiter.bucket("patch")
    assert bucket is not None
    assert bucket.try_take() == pytest.approx(0.2)


async def test_a_request_in_flight_earns_the_next_no_tokens(clock: Clock, slept: Slept) -> None:
    limiter = RateLimiter({"search": RateSpec(rate=2.0, burst=1.0)}, clock=clock, sleep=slept)
    async with limiter.sending("search"):
        clock.advance(1.0)   # the answer took a second: the partner may have counted it just now
    await limiter.acquire("search")
    assert slept == [pytest.approx(0.5)]


async def test_with_no_grace_a_bucket_refills_only_once_none_of_its_requests_is_in_flight(clock: Clock, slept: Slept) -> None:
    limiter = RateLimiter({"search": RateSpec(rate=2.0, burst=2.0)}, clock=clock, sleep=slept)
    async with limiter.sending("search"):
        async with limiter.sending("search"):
            clock.advance(1.0)
        clock.advance(1.0)   # the first still in flight
    bucket = limiter.bucket("search")
    assert bucket is not None and bucket.tokens == 0.0 and bucket.in_flight == 0
    clock.advance(0.25)
    assert bucket.tokens == pytest.approx(0.5)


async def test_a_bucket_refills_while_its_request_is_in_flight_only_for_the_grace_its_margin_allows(
        clock: Clock) -> None:
    limiter = RateLimiter.under({"patch": RateSpec(rate=5.0, burst=5.0)}, clock=clock)
    bucket = limiter.bucket("patch")
    assert bucket is not None and bucket.grace == pytest.approx(0.5 / 4.5)   # half a token at 4.5/s
    for _ in range(3):
        await limiter.acquire("patch")
    async with limiter.sending("patch"):                # 0.5 left
        clock.advance(0.1)
        assert bucket.tokens == pytest.approx(0.5 + 0.45)   # within the grace: refilled
        clock.advance(1.0)
        assert bucket.tokens == pytest.approx(0.5 + 0.5)    # past it: nothing more
    clock.advance(0.1)
    assert bucket.tokens == pytest.approx(1.0 + 0.45)       # landed: refilling again


async def test_a_failed_request_lands_too(clock: Clock, slept: Slept) -> None:
    limiter = RateLimiter({"search": RateSpec(rate=2.0, burst=1.0)}, clock=clock, sleep=slept)
    with pytest.raises(TimeoutError):
        async with limiter.sending("search"):
            clock.advance(1.0)
            raise TimeoutError
    await limiter.acquire("search")
    assert slept == [pytest.approx(0.5)]


async def _calls_the_partner_refused(in_flight_counted: bool) -> int:
    """Calls one after another at our nine tenths of a partner's 5/s, burst 5: the first is
    answered in 0.2 s and the partner counted it only then (a connection being opened, a busy
    partner); the next five are answered at once. The partner's own bucket says how many it refused."""
    clock = Clock()
    limiter = RateLimiter.under({"search": RateSpec(5.0, 5.0)}, clock=clock, sleep=Slept(clock))
    partner = TokenBucket(RateSpec(5.0, 5.0), clock)
    refused = 0
    for flight in (0.2, 0.0, 0.0, 0.0, 0.0, 0.0):
        async with limiter.sending("search") if in_flight_counted else acquired(limiter, "search"):
            clock.advance(flight)
            refused += partner.try_take() > 0
    return refused


@contextlib.asynccontextmanager
async def acquired(limiter: RateLimiter, operation: str) -> AsyncIterator[None]:
    """A request paced from its send alone: `acquire`, nothing counted in flight."""
    await limiter.acquire(operation)
    yield


async def test_calls_paced_from_their_answers_keep_the_partners_rate_wherever_it_counts_them() -> None:
    assert await _calls_the_partner_refused(in_flight_counted=False) > 0   # paced from the sends alone
    assert await _calls_the_partner_refused(in_flight_counted=True) == 0


def test_a_limiter_under_published_rates_runs_each_bucket_at_nine_tenths() -> None:
    limiter = RateLimiter.under({"push": RateSpec(10.0, 20.0), "poll": RateSpec(0.5, 1.0)})
    assert {op: b.spec for op, b in limiter.buckets.items()} == {"push": RateSpec(9.0, 18.0),
                                                                  "poll": RateSpec(0.45, 1.0)}


def test_a_connector_publishes_its_rates_as_its_options_set_them() -> None:
    def spec(kind: str, **options: object) -> PartnerSpec:
        return PartnerSpec(kind, kind, "", {}, dict(options))

    assert AmazonConnector.rates(spec("amazon")) is AmazonConnector.limits
    assert SquareConnector.rates(spec("square", rate_limit={"rate": 2})) == {"api": RateSpec(2.0, 20.0)}
    assert WholesaleConnector.rates(spec("wholesale", min_846_interval_s=4)) == {"upload_846": RateSpec(0.25, 1)}


async def test_a_cost_above_the_burst_spends_the_whole_bucket_instead_of_waiting_forever(
        clock: Clock, slept: Slept) -> None:
    limiter = RateLimiter({"graphql": RateSpec(rate=10.0, burst=5.0)}, clock=clock, sleep=slept)
    await limiter.acquire("graphql", 50.0)
    assert slept == []
    assert limiter.would_wait("graphql")
