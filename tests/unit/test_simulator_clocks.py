"""The simulators read time from the clock they are given, so a test moves time instead of sleeping."""

from __future__ import annotations

import asyncio
import time

from simulators.clock import JumpingClock, ManualClock
from simulators.ratelimit import Allowance, Quota


def test_an_allowance_refills_only_as_its_clock_moves() -> None:
    clock = ManualClock()
    allowance = Allowance(Quota(per_second=2.0, burst=4.0), clock)
    assert [allowance.spend() for _ in range(4)] == [0.0] * 4
    assert allowance.spend() == 0.5          # one token short at two a second
    clock.now += 0.5
    assert allowance.spend() == 0.0
    clock.now += 3600
    assert allowance.left == 4.0             # never more than the burst


async def test_a_manual_clock_wakes_a_sleeper_only_when_advanced_to_its_moment() -> None:
    clock = ManualClock()
    sleeper = asyncio.ensure_future(clock.sleep(60))
    await asyncio.sleep(0)                   # the sleeper starts waiting
    await clock.advance(59)
    assert not sleeper.done()
    await clock.advance(1)
    assert sleeper.done()


async def test_a_jump_ends_a_long_wait_at_once_and_moves_both_times() -> None:
    clock = JumpingClock()
    wall, began = clock.time(), time.monotonic()
    sleeper = asyncio.ensure_future(clock.sleep(3600))
    await asyncio.sleep(0.01)
    clock.jump(3600)
    await asyncio.wait_for(sleeper, 1)
    assert time.monotonic() - began < 1
    assert clock.time() - wall >= 3600
