"""Retry pacing and isolation for one partner: exponential backoff with full jitter, and a circuit
breaker that stops calling a failing partner for a while and then lets one trial call through.
Pure, with an injectable clock and random source."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class Backoff:
    def __init__(self, base: float = 0.25, cap: float = 30.0, rand: Callable[[], float] = random.random):
        self.base, self.cap = base, cap
        self._rand = rand
        self.attempt = 0

    def next_delay(self) -> float:
        """Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2**attempt)]."""
        ceiling = min(self.cap, self.base * 2.0 ** min(self.attempt, 60))  # no overflow in long outages
        self.attempt += 1
        return ceiling * self._rand()

    def reset(self) -> None:
        self.attempt = 0


class CircuitBreaker:
    """closed: calls go through; after `threshold` consecutive failures it opens for `cool_off`
    seconds (doubling while trials keep failing, up to `max_cool_off`); then half_open lets one
    trial through: success closes it, failure opens it again."""

    def __init__(self, threshold: int = 5, cool_off: float = 2.0, max_cool_off: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.threshold, self.base_cool_off, self.max_cool_off = threshold, cool_off, max_cool_off
        self._clock = clock
        self.failures = 0
        self.cool_off = cool_off
        self.opened_at: float | None = None
        self.trips = 0
        self._trial = False  # the one call let through while half open is under way

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half_open" if self._clock() >= self.opened_at + self.cool_off else "open"

    def allows(self) -> bool:
        return self.state != "open"

    def try_acquire(self) -> bool:
        """May a call go now? Closed: yes. Half open: only the first caller, until its outcome is
        told (success, failure, or release when it ended neither way)."""
        state = self.state
        if state == "closed":
            return True
        if state == "half_open" and not self._trial:
            self._trial = True
            return True
        return False

    def release(self) -> None:
        """The call ended without saying anything about the partner's health (a 429, a cancel)."""
        self._trial = False

    def wait(self) -> float:
        """Seconds until a call may be tried (0 when it may now)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cool_off - self._clock())

    def success(self) -> None:
        self.failures, self.opened_at, self.cool_off = 0, None, self.base_cool_off
        self._trial = False

    def failure(self) -> None:
        self._trial = False
        self.failures += 1
        if self.state == "half_open":
            self.cool_off = min(self.max_cool_off, self.cool_off * 2)
            self.opened_at = self._clock()
        elif self.opened_at is None and self.failures >= self.threshold:
            self.opened_at = self._clock()
            self.trips += 1
