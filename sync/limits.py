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
    def __init__(self, spec: RateSpec, clock: Callable[[], float] = time.monotonic, full: bool = True):
        self.spec = spec
        self._clock = clock
        self._tokens = spec.burst if full else 0.0
        self._at = clock()
        self._blocked_until = 0.0
        self.in_flight = 0

    def _refill(self) -> float:
        now = self._clock()
        if not self.in_flight:
            self._tokens = min(self.spec.burst, self._tokens + (now - self._at) * self.spec.rate)
        self._at = now
        return now

    def sent(self) -> None:
        """A request taken from this bucket is on its way: no refill until every one has landed.
        The partner counts a request when it reaches it, anywhere between our send and its answer
        (a slow sender, a busy partner). Refilled from the sends, a request that arrived late and
        the next, sent at once after its answer, reach the partner closer together than our rate;
        refilled only while nothing is in flight, our bucket holds at most what the partner's holds
        in any window, wherever in their flights it counted the requests."""
        self._refill()
        self.in_flight += 1

    def landed(self) -> None:
        """A request `sent` has its answer (or failed)."""
        self._refill()
        self.in_flight -= 1

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
    def under(cls, published: Mapping[str, RateSpec], clock: Callable[[], float] = time.monotonic
              ) -> RateLimiter:
        """Buckets for a partner's published rates, each run at SAFETY of its rate."""
        return cls({op: spec.scaled(SAFETY) for op, spec in published.items()}, clock=clock)

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
        """`acquire`, then the request inside, during which its bucket does not refill
        (TokenBucket.sent) until it leaves: its answer, or a failure."""
        await self.acquire(operation, cost)
        bucket = self.bucket(operation)
        if bucket is None:
            yield
            return
        bucket.sent()
        try:
            yield
        finally:
            bucket.landed()

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
