"""Token buckets: a partner's published rate for one operation, kept on our side so we never go over
it. Pure logic with an injectable clock; the async `RateLimiter` waits for a token. It is the
connectors' limiter (connectors.limits.Limiter): whoever builds a connector passes one in."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping

from connectors.limits import RateSpec

# Our buckets run a little under the published rate: the partner's clock and ours disagree by the
# network's jitter, and a request that left on time may arrive early.
SAFETY = 0.9


class TokenBucket:
    """`grace`: seconds a request may be in flight before the bucket stops refilling (`sent`)."""

    def __init__(self, spec: RateSpec, clock: Callable[[], float] = time.monotonic, full: bool = True,
                 grace: float = 0.0):
        self.spec = spec
        self.grace = grace
        self._clock = clock
        self._tokens = spec.burst if full else 0.0
        self._at = clock()
        self._blocked_until = 0.0
        self._flights: list[float] = []   # when each request in flight was sent

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    def _refill(self) -> float:
        now = self._clock()
        until = min(now, max(self._at, min(self._flights) + self.grace)) if self._flights else now
        self._tokens = min(self.spec.burst, self._tokens + (until - self._at) * self.spec.rate)
        self._at = now
        return now

    def sent(self) -> float:
        """A request taken from this bucket is on its way; returns the mark `landed` wants.
        The partner counts a request when it reaches it, anywhere between our send and its answer
        (a slow sender, a busy partner). Refilled from the sends alone, a request that arrived late
        and the next, sent at once after its answer, reach the partner closer together than our
        rate. So the bucket does not refill while a request has been in flight longer than `grace`:
        with grace = (the partner's burst - ours) / our rate, what we send in any window stays within
        what the partner's bucket lets through, wherever in their flights it counted the requests
        (a window's requests were sent at most one flight before it, and that flight earned at most
        `grace` of refill). With the published rates run at SAFETY (nine tenths) the grace is a ninth
        of the time the published burst takes to refill: 0.11 s for 5/s burst 5, 1.7 s for eBay's
        200/s burst 3,000; none for a burst of 1."""
        now = self._refill()
        self._flights.append(now)
        return now

    def landed(self, mark: float) -> None:
        """The request `sent` returned `mark` for has its answer (or failed)."""
        self._refill()
        self._flights.remove(mark)

    def try_take(self, cost: float = 1.0) -> float:
        """Take `cost` tokens and return 0, or take nothing and return the seconds to wait."""
        wait = self.wait_for(cost)
        if wait == 0.0:
            self._tokens -= cost
        return wait

    def wait_for(self, cost: float = 1.0) -> float:
        """Seconds until `cost` tokens could be taken (0: now); takes nothing."""
        now = self._refill()
        if now < self._blocked_until:
            return self._blocked_until - now
        short = cost - self._tokens
        return 0.0 if short <= 1e-9 else short / self.spec.rate   # float dust is not a wait

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def block_for(self, seconds: float) -> None:
        """The partner said wait (429 Retry-After): empty the bucket and take nothing until then."""
        now = self._refill()
        self._tokens = 0.0
        self._blocked_until = max(self._blocked_until, now + seconds)

    @property
    def used(self) -> float:
        """Share of the bucket in use, 0..1 (for the dashboard's rate-limit gauge)."""
        return 1.0 - self.tokens / self.spec.burst


class RateLimiter:
    """One bucket per operation name. `acquire` waits until the call may be made; an operation
    with no published limit uses the `default` spec, if any, else is not limited."""

    def __init__(self, specs: Mapping[str, RateSpec], default: RateSpec | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self._clock = clock
        self._sleep = sleep
        self._default = default
        self.buckets = {name: TokenBucket(spec, clock) for name, spec in specs.items()}
        self.waited = 0.0

    @classmethod
    def under(cls, published: Mapping[str, RateSpec], clock: Callable[[], float] = time.monotonic,
              sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> RateLimiter:
        """Buckets for a partner's published rates, each run at SAFETY of its rate, each with the
        grace its margin allows a request in flight (TokenBucket.sent)."""
        limiter = cls({op: spec.scaled(SAFETY) for op, spec in published.items()}, clock=clock, sleep=sleep)
        for op, bucket in limiter.buckets.items():
            margin = published[op].burst - bucket.spec.burst
            bucket.grace = margin / bucket.spec.rate if bucket.spec.rate > 0 else 0.0
        return limiter

    def bucket(self, operation: str) -> TokenBucket | None:
        found = self.buckets.get(operation)
        if found is None and self._default is not None:
            found = self.buckets[operation] = TokenBucket(self._default, self._clock)
        return found

    async def acquire(self, operation: str, cost: float = 1.0) -> None:
        bucket = self.bucket(operation)
        if bucket is None:
            return
        # A bucket configured smaller than one call's cost would never fill: spend all it holds.
        cost = min(cost, bucket.spec.burst)
        while (wait := bucket.try_take(cost)) > 0:
            self.waited += wait
            await self._sleep(wait)

    @contextlib.asynccontextmanager
    async def sending(self, operation: str, cost: float = 1.0) -> AsyncIterator[None]:
        """`acquire`, then the request inside, in flight (TokenBucket.sent) until it leaves: its
        answer, or a failure."""
        await self.acquire(operation, cost)
        bucket = self.bucket(operation)
        if bucket is None:
            yield
            return
        mark = bucket.sent()
        try:
            yield
        finally:
            bucket.landed(mark)

    def would_wait(self, operation: str, cost: float = 1.0) -> bool:
        bucket = self.bucket(operation)
        if bucket is None:
            return False
        return bucket.wait_for(cost) > 0

    def drain(self) -> None:
        """Start every bucket empty: after a restart we cannot know how much of the partner's
        bucket our previous life spent just before it ended."""
        for bucket in self.buckets.values():
            bucket.block_for(0.0)

    def honour(self, operation: str, retry_after: float) -> None:
        bucket = self.bucket(operation)
        if bucket is not None:
            bucket.block_for(retry_after)

    def usage(self) -> dict[str, float]:
        return {name: round(bucket.used, 3) for name, bucket in self.buckets.items()}
