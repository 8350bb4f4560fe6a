"""Login throttling: after 5 failed attempts for one username, or 20 from one address, within 15
minutes, a login is refused (429 with Retry-After) until the oldest of those failures leaves the
window, whatever the password. Per web process, in memory, with an injectable clock; the number of
names and addresses remembered is bounded, so a flood of made-up names cannot grow it."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable

WINDOW = 15 * 60.0
PER_USER = 5
PER_ADDRESS = 20
REMEMBERED = 10_000


class Failures:
    """Times of recent failures per key, oldest first."""

    def __init__(self, limit: int, clock: Callable[[], float]):
        self._limit, self._clock = limit, clock
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, key: str) -> float:
        """Seconds until `key` may try again (0: now)."""
        times = self._recent(key)
        if len(times) < self._limit:
            return 0.0
        return times[-self._limit] + WINDOW - self._clock()

    def add(self, key: str) -> None:
        self._recent(key).append(self._clock())
        self._seen.move_to_end(key)
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)

    def _recent(self, key: str) -> deque[float]:
        times = self._seen.setdefault(key, deque(maxlen=self._limit))
        while times and times[0] <= self._clock() - WINDOW:
            times.popleft()
        return times


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._users = Failures(PER_USER, clock)
        self._addresses = Failures(PER_ADDRESS, clock)

    def retry_after(self, username: str, address: str) -> int:
        """Whole seconds to wait before a login for `username` from `address` is looked at; 0: go."""
        return math.ceil(max(self._users.wait(username.lower()), self._addresses.wait(address)))

    def failed(self, username: str, address: str) -> None:
        self._users.add(username.lower())
        self._addresses.add(address)
