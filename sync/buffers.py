"""Adaptive buffers (`buffer: auto`): per partner listing, the units likely to go before a change of
stock reaches the partner; the listing is shown as 0 once its available pool is down to that many
(sync/rules.py), and whole above it. Pure.

Per listing, every drop of its available stock (a sale on any channel, the partner's own included, or
stock moved away: each leaves less than the partner was last told) decays into a rate, an
exponentially weighted moving average with time constant `window_s`, so a burst raises it within a
few sales and it decays once the burst is over. The partner's sync lag is the `lag_quantile` (0.9) of
the last `LAG_SAMPLES` listings pushed, each from the moment its desired quantity changed to the
moment the partner accepted the push; for a partner whose orders are polled, the longest wait for the
next poll (`order_delay_s`) is added, as a unit it sold may meanwhile be sold again elsewhere. The
units going within the lag are taken as Poisson: the buffer is the smallest number that covers them
with probability `confidence`, between `minimum` and `maximum`.

Why these choices (tests/benchmark/buffers.py measures them): the rate of all drops, not only the
channel's own orders, because the units a partner oversells are those other channels took while it
was not yet told; hiding the last units rather than taking the buffer off every quantity, because
only the last units are at risk, and a partner shown 12 instead of 10 sells no more than it would
have. Per listing rather than one figure for the channel: a channel's 0.8 units/s spread over 400
listings puts almost nothing at risk on any one of them, and a channel-wide buffer would both hold
stock back on every quiet listing and make every listing change (one push each, through the
partner's rate limit) whenever the channel's pace moved."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

LAG_SAMPLES = 100        # the lag is read from this many latest pushes
FORGET_BELOW = 1e-4      # units/s: a listing this quiet is forgotten (its buffer is the floor)


@dataclass(frozen=True, slots=True)
class AutoBuffer:
    """The config of `buffer: auto` (channels.<id>.buffer_min, buffer_max, buffer_window_s,
    buffer_confidence)."""

    minimum: int = 0
    maximum: int = 5
    window_s: float = 20.0
    confidence: float = 0.9
    lag_quantile: float = 0.9
    default_lag_s: float = 1.0   # before the first push is measured

    def __post_init__(self) -> None:
        if not 0 <= self.minimum <= self.maximum:
            raise ValueError("buffer_min and buffer_max: 0 <= buffer_min <= buffer_max")
        if self.window_s <= 0:
            raise ValueError("buffer_window_s must be more than 0")
        if not 0 < self.confidence < 1:
            raise ValueError("buffer_confidence must be between 0 and 1 (exclusive)")


def units_within(expected: float, confidence: float, limit: int) -> int:
    """The smallest k with P(N <= k) >= confidence for N ~ Poisson(expected); at most `limit`."""
    pmf = math.exp(-expected)
    cdf, k = pmf, 0
    while cdf < confidence and k < limit:
        k += 1
        pmf *= expected / k
        cdf += pmf
    return k


def buffer_size(rate: float, lag_s: float, rule: AutoBuffer) -> int:
    """The buffer for a listing selling `rate` units/s at a partner told after `lag_s` seconds."""
    expected = max(0.0, rate) * max(0.0, lag_s)
    return max(rule.minimum, units_within(expected, rule.confidence, rule.maximum))


class SalesSpeed:
    """Units per second, exponentially weighted over `window_s` seconds."""

    __slots__ = ("_at", "_rate", "_window")

    def __init__(self, window_s: float, at: float):
        self._rate, self._at, self._window = 0.0, at, window_s

    def sold(self, units: int, at: float) -> None:
        self._rate = self.rate(at) + units / self._window
        self._at = max(self._at, at)

    def rate(self, at: float) -> float:
        return self._rate * math.exp(-max(0.0, at - self._at) / self._window)


class AdaptiveBuffers:
    """The auto buffer of each of one partner's listings, and the reasoning behind it."""

    def __init__(self, rule: AutoBuffer, clock: Callable[[], float] = time.time, order_delay_s: float = 0.0):
        """`order_delay_s`: how long the partner's orders may wait to reach us (its poll interval
        and jitter when it sends no webhooks; 0 when it does)."""
        self.rule, self._clock, self.order_delay_s = rule, clock, order_delay_s
        self._speeds: dict[str, SalesSpeed] = {}
        self._lags: deque[float] = deque(maxlen=LAG_SAMPLES)
        self._applied: dict[str, int] = {}   # the size each listing's desired quantity last used
        self._available: dict[str, int] = {}   # each listing's available pool as last seen

    def seen(self, sku: str, available: int) -> None:
        """The listing's available pool now: a drop since the last look counts as units gone."""
        before = self._available.get(sku)
        if before is not None and available < before:
            self.sold(sku, before - available)
        self._available[sku] = available

    def available(self, sku: str) -> int | None:
        return self._available.get(sku)

    def sold(self, sku: str, units: int) -> None:
        now = self._clock()
        self._speeds.setdefault(sku, SalesSpeed(self.rule.window_s, now)).sold(units, now)

    def pushed(self, lag_s: float) -> None:
        self._lags.append(lag_s)

    def lag(self) -> float:
        """Seconds a change may take to reach the partner, plus its orders' wait to reach us."""
        return self.push_lag() + self.order_delay_s

    def push_lag(self) -> float:
        if not self._lags:
            return self.rule.default_lag_s
        ordered = sorted(self._lags)
        return ordered[min(len(ordered) - 1, int(len(ordered) * self.rule.lag_quantile))]

    def rate(self, sku: str) -> float:
        speed = self._speeds.get(sku)
        return 0.0 if speed is None else speed.rate(self._clock())

    def size(self, sku: str) -> int:
        """The buffer of `sku` now; remembered as the one its desired quantity uses."""
        size = buffer_size(self.rate(sku), self.lag(), self.rule)
        self._applied[sku] = size
        return size

    def moved(self) -> list[str]:
        """Listings whose buffer is no longer the one their desired quantity used (a sale raised
        it, time let it decay); forgets listings gone quiet."""
        lag, now = self.lag(), self._clock()
        moved = []
        for sku in list(self._speeds):
            rate = self._speeds[sku].rate(now)
            if buffer_size(rate, lag, self.rule) != self._applied.get(sku, self.rule.minimum):
                moved.append(sku)
            elif rate < FORGET_BELOW:
                del self._speeds[sku]
        return moved

    def reasoning(self, hottest: int = 3) -> dict[str, Any]:
        """What /partners and GET /api/v1/partners show: the rule, the lag and the listings whose
        buffer is above the floor (the `hottest` fastest selling)."""
        now, lag = self._clock(), self.lag()
        rates = sorted(((speed.rate(now), sku) for sku, speed in self._speeds.items()), reverse=True)
        listings = [{"sku": sku, "units": size, "rate_per_s": round(rate, 4),
                     "expected": round(rate * lag, 3)}
                    for rate, sku in rates if (size := buffer_size(rate, lag, self.rule)) > self.rule.minimum]
        return {"mode": "auto", "floor": self.rule.minimum, "ceiling": self.rule.maximum,
                "window_s": self.rule.window_s, "confidence": self.rule.confidence,
                "lag_s": round(lag, 3), "push_lag_s": round(self.push_lag(), 3),
                "order_delay_s": self.order_delay_s, "lag_measured": bool(self._lags),
                "channel_rate_per_s": round(sum(rate for rate, _ in rates), 4),
                "listings_above_floor": len(listings), "hottest": listings[:hottest]}

