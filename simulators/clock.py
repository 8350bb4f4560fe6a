"""The simulators' sense of time. A simulator reads wall time, monotonic time and waits through
the clock it is given, never through `time` or `asyncio.sleep` directly, so a test can move time on
(token expiry, rate buckets, feed processing, webhook retries, queue visibility) instead of
sleeping through it: `JumpingClock` keeps real time flowing for the real clients talking to the
simulator and adds the jumps a test makes; `ManualClock` moves only when told."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch: what timestamps on the wire are made of."""

    def monotonic(self) -> float:
        """Seconds that only ever go forward: what expiries and buckets are measured in."""

    async def sleep(self, seconds: float) -> None:
        """Wait until `seconds` of this clock have passed."""


class SystemClock:
    """Real time."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class JumpingClock(SystemClock):
    """Real time plus every `jump` a test has made: a wait ends when real time and jumps together
    reach its end, so jumping an hour ends an hour's wait at once, and nothing else changes pace."""

    def __init__(self) -> None:
        self.jumped = 0.0
        self._jump = asyncio.Event()

    def time(self) -> float:
        return time.time() + self.jumped

    def monotonic(self) -> float:
        return time.monotonic() + self.jumped

    async def sleep(self, seconds: float) -> None:
        end = self.monotonic() + seconds
        while (left := end - self.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):   # not wait_for: on 3.11 it can swallow a cancel
                async with asyncio.timeout(left):
                    await self._jump.wait()

    def jump(self, seconds: float) -> None:
        self.jumped += seconds
        woken, self._jump = self._jump, asyncio.Event()
        woken.set()


class ManualClock:
    """Time that passes only when `advance` is called; sleepers wake once it reaches their moment.
    Wall and monotonic time move together, from `start` (a plausible present by default)."""

    def __init__(self, start: float = 1_767_225_600.0):   # 2026-01-01T00:00:00Z
        self.now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), waiter))
        await waiter

    async def advance(self, seconds: float) -> None:
        """Move time on and let every sleeper due by then run before returning."""
        self.now += seconds
        while self._sleepers and self._sleepers[0][0] <= self.now:
            _, _, waiter = heapq.heappop(self._sleepers)
            if not waiter.done():
                waiter.set_result(None)
        for _ in range(3):   # the woken tasks run their next step (and may sleep again)
            await asyncio.sleep(0)
