"""The partner's side of a rate limit: an allowance that refills at a steady rate up to a ceiling.
A request spends from it or, when it is short, is told how long until it would not be. This counts
what the partner lets through; it never waits for anything."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.clock import Clock


@dataclass(frozen=True, slots=True)
class Quota:
    per_second: float   # how fast the allowance comes back
    burst: float        # the most it holds


class Allowance:
    """Starts full; `spend` takes `cost` or, short of it, takes nothing and says how long to wait."""

    def __init__(self, quota: Quota, clock: Clock):
        self.quota = quota
        self._clock = clock
        self._left = quota.burst
        self._as_of = clock.monotonic()

    @property
    def left(self) -> float:
        now = self._clock.monotonic()
        self._left = min(self.quota.burst, self._left + (now - self._as_of) * self.quota.per_second)
        self._as_of = now
        return self._left

    def spend(self, cost: float = 1.0) -> float:
        """0 when `cost` was spent, else the seconds until it could be."""
        short = cost - self.left
        if short > 0:
            return short / self.quota.per_second
        self._left -= cost
        return 0.0
