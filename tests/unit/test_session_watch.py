"""The check of the open event streams' sessions: one look-up a round for every stream of the
process, whatever their number; a stream learns its session ended from memory; a failed look-up ends
nothing; nothing runs while no stream is open."""

from __future__ import annotations

import asyncio

import pytest

from web.dashboard.fanout import NUDGE_SECONDS
from web.dashboard.session_watch import CHECK_EVERY, SessionWatch
from web.dashboard.stream import RECHECK_SECONDS

pytestmark = pytest.mark.unit
EVERY = 0.01


class Store:
    def __init__(self, standing: set[str]):
        self.standing = standing
        self.asked: list[set[str]] = []
        self.failing = False

    async def __call__(self, keys: set[str]) -> set[str]:
        self.asked.append(set(keys))
        if self.failing:
            raise OSError("the database is away")
        return keys & self.standing


async def rounds(watch: SessionWatch, count: int) -> None:
    target = watch.checks + count
    while watch.checks < target:
        await asyncio.sleep(EVERY / 4)
    await asyncio.sleep(0)  # the round's answer is recorded


def test_a_stream_ends_within_the_documented_bound_of_its_sessions_end() -> None:
    assert CHECK_EVERY + 2 * NUDGE_SECONDS < RECHECK_SECONDS


async def test_five_hundred_streams_of_many_sessions_take_one_look_up_a_round() -> None:
    store = Store({f"s{n}" for n in range(100)})
    watch = SessionWatch(store, EVERY)
    for n in range(500):
        watch.hold(f"s{n % 101}")  # s100 does not stand
    await rounds(watch, 3)
    assert all(keys == {f"s{n}" for n in range(101)} for keys in store.asked[:3])
    assert len(store.asked) == watch.checks
    assert watch.ended("s100") and not any(watch.ended(f"s{n}") for n in range(100))
    watch.close()


async def test_a_session_that_ends_is_seen_at_the_next_round_and_forgotten_with_its_last_stream() -> None:
    store = Store({"a", "b"})
    watch = SessionWatch(store, EVERY)
    watch.hold("a")
    watch.hold("a")
    watch.hold("b")
    await rounds(watch, 1)
    assert not watch.ended("a")
    store.standing = {"b"}  # a logged out
    await rounds(watch, 1)
    assert watch.ended("a") and not watch.ended("b")
    watch.release("a")
    assert watch.ended("a")  # its other stream has not woken yet
    watch.release("a")
    assert not watch.ended("a")
    watch.close()


async def test_a_stream_without_a_session_ends_at_the_first_check_and_is_not_looked_up() -> None:
    store = Store({"a"})
    watch = SessionWatch(store, EVERY)
    watch.hold("")
    watch.hold("a")
    await rounds(watch, 1)
    assert watch.ended("") and not watch.ended("a")
    assert "" not in store.asked[0]
    watch.close()


async def test_a_failed_look_up_ends_no_stream() -> None:
    store = Store({"a"})
    store.failing = True
    watch = SessionWatch(store, EVERY)
    watch.hold("a")
    await rounds(watch, 3)
    assert not watch.ended("a")
    store.failing = False
    store.standing = set()
    await rounds(watch, 1)
    assert watch.ended("a")
    watch.close()


async def test_nothing_is_looked_up_while_no_stream_is_open() -> None:
    store = Store({"a"})
    watch = SessionWatch(store, EVERY)
    watch.hold("a")
    await rounds(watch, 1)
    watch.release("a")
    await asyncio.sleep(EVERY * 3)
    asked = len(store.asked)
    await asyncio.sleep(EVERY * 5)
    assert len(store.asked) == asked
    watch.hold("a")  # a stream opens again: the checks start again
    await rounds(watch, 1)
    assert len(store.asked) > asked
    watch.close()
