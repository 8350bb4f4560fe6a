"""Login throttling: after 5 failed attempts for one username, or 20 from one address, within 15
minutes, a login is refused (429 with Retry-After) until the oldest of those failures leaves the
window, whatever the password. Per web process, in memory, with an injectable clock; the number of
names and addresses remembered is bounded, so a flood of made-up names cannot grow it."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

WINDOW = 15 * 60.0
PER_USER = 5
PER_ADDRESS = 20
REMEMBERED = 10_000


class Failures:
    """Times of recent failures per key, oldest first. Only a failure adds a key (a look-up never
    does: a flood of made-up names refused with 429 must not grow it), and at most REMEMBERED keys are
    kept, the least recently failed forgotten first; each key's times are a short list (at most
    `limit`), which costs a fifth of a deque's memory."""

    def __init__(self, limit: int, clock: Callable[[], float]):
        self._limit, self._clock = limit, clock
        self._seen: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def wait(self, key: str) -> float:
        """Seconds until `key` may try again (0: now)."""
        times = self._recent(key)
        if len(times) < self._limit:
            return 0.0
        return times[-self._limit] + WINDOW - self._clock()

    def add(self, key: str) -> None:
        times = self._recent(key)
        times.append(self._clock())
        del times[:-self._limit]
        self._seen[key] = times
        self._seen.move_to_end(key)
        while len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)

    def _recent(self, key: str) -> list[float]:
        times = self._seen.get(key)
        if times is None:
            return []
        cutoff = self._clock() - WINDOW
        fresh = [at for at in times if at > cutoff]
        if not fresh:
            del self._seen[key]
        elif len(fresh) < len(times):
            self._seen[key] = fresh
        return fresh


class LoginThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._users = Failures(PER_USER, clock)
        self._addresses = Failures(PER_ADDRESS, clock)

    def retry_after(self, username: str, address: str) -> int:
        """Whole seconds to wait before a login for `username` from `address` is looked at; 0: go."""
        return math.ceil(max(self._users.wait(username.lower()), self._addresses.wait(address)))

    def remembered(self) -> int:
        """Names and addresses held now (at most REMEMBERED of each)."""
        return len(self._users) + len(self._addresses)

    def failed(self, username: str, address: str) -> None:
        self._users.add(username.lower())
        self._addresses.add(address)
