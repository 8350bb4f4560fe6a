"""sync/limits under concurrency, in virtual time: callers send side by side through one bucket,
each request reaches the partner at any moment of its flight, and the partner's own bucket (the
published rate and burst) must never refuse one. Without the in-flight rule it does."""

from __future__ import annotations

import asyncio
import heapq
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.limits import RateSpec
from sync.limits import RateLimiter, TokenBucket
from tests.unit.test_limits import acquired

PUBLISHED = RateSpec(rate=5.0, burst=5.0)

# one call: (seconds in flight, where in its flight the partner counts it, 0..1)
calls = st.tuples(st.sampled_from([0.0, 0.01, 0.05, 0.2, 0.5, 1.0]), st.floats(0.0, 1.0))


class VirtualTime:
    """A clock that moves only when every task is waiting: then to the earliest wake-up."""

    def __init__(self) -> None:
        self.now = 100.0
        self._wakeups: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._wakeups, (self.now + max(0.0, seconds), next(self._order), woken))
        await woken

    async def run(self, tasks: list[asyncio.Task[None]]) -> None:
        while not all(task.done() for task in tasks):
            for _ in range(20):   # let every task run until it waits
                await asyncio.sleep(0)
            if self._wakeups:
                self.now, _, woken = heapq.heappop(self._wakeups)
                woken.set_result(None)
        for task in tasks:
            task.result()


async def _refused(callers: list[list[tuple[float, float]]], in_flight_counted: bool) -> int:
    time = VirtualTime()
    limiter = RateLimiter.under({"op": PUBLISHED}, clock=time, sleep=time.sleep)
    partner = TokenBucket(PUBLISHED, time)
    refused = 0

    async def caller(plan: list[tuple[float, float]]) -> None:
        nonlocal refused
        for flight, counted_at in plan:
            async with limiter.sending("op") if in_flight_counted else acquired(limiter, "op"):
                await time.sleep(flight * counted_at)
                refused += partner.try_take() > 0
                await time.sleep(flight * (1 - counted_at))

    await time.run([asyncio.ensure_future(caller(plan)) for plan in callers])
    return refused


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(calls, min_size=1, max_size=12), min_size=1, max_size=4))
def test_callers_side_by_side_never_go_over_the_partners_limit_wherever_it_counts_their_calls(
        callers: list[list[tuple[float, float]]]) -> None:
    assert asyncio.run(_refused(callers, in_flight_counted=True)) == 0


def test_paced_from_their_sends_alone_callers_side_by_side_do_go_over_it() -> None:
    # two callers: one call each counted at the end of a slow flight, then quick ones counted at once
    slow_then_quick = [(0.5, 1.0)] + [(0.0, 0.0)] * 6
    assert asyncio.run(_refused([slow_then_quick, slow_then_quick], in_flight_counted=False)) > 0
    assert asyncio.run(_refused([slow_then_quick, slow_then_quick], in_flight_counted=True)) == 0
