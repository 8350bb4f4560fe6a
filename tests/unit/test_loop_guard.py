"""The guard that keeps one test's tasks off the next test's loop (tests/harness/loop_guard)."""

from __future__ import annotations

import asyncio

from tests.harness.loop_guard import cancel_leftovers, describe, leftovers


async def sleeper(seconds: float) -> None:
    await asyncio.sleep(seconds)


async def waits_in_sleeper() -> None:
    await sleeper(3600)


async def stubborn(released: asyncio.Event) -> None:
    while not released.is_set():
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            continue


async def test_a_task_started_after_the_snapshot_is_cancelled_and_named_with_where_it_waited() -> None:
    before = asyncio.all_tasks()
    task = asyncio.ensure_future(waits_in_sleeper())
    await asyncio.sleep(0)
    found, stuck = await cancel_leftovers(before, settle=1.0)
    assert task.cancelled() and stuck == []
    assert len(found) == 1 and "waits_in_sleeper" in found[0] and "sleeper (test_loop_guard.py:" in found[0]


async def test_tasks_that_were_there_before_are_left_alone() -> None:
    older = asyncio.ensure_future(sleeper(3600))
    try:
        await asyncio.sleep(0)
        found, _ = await cancel_leftovers(asyncio.all_tasks(), settle=1.0)
        assert found == [] and not older.done()
    finally:
        older.cancel()


async def test_the_asking_task_and_finished_tasks_are_not_leftovers() -> None:
    before = asyncio.all_tasks()
    done = asyncio.ensure_future(sleeper(0))
    await done
    assert leftovers(before) == []


async def test_a_task_that_ignores_its_cancellation_is_reported_stuck_after_the_settle_time() -> None:
    before, released = asyncio.all_tasks(), asyncio.Event()
    task = asyncio.ensure_future(stubborn(released))
    await asyncio.sleep(0)
    try:
        found, stuck = await cancel_leftovers(before, settle=0.1)
        assert len(found) == 1 and len(stuck) == 1 and "stubborn" in stuck[0]
    finally:
        released.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_task_started_while_another_unwinds_is_cancelled_too() -> None:
    before, spawned = asyncio.all_tasks(), []

    async def spawns_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            spawned.append(asyncio.ensure_future(sleeper(3600)))

    first = asyncio.ensure_future(spawns_on_cancel())
    await asyncio.sleep(0)
    found, stuck = await cancel_leftovers(before, settle=1.0)
    assert len(found) == 2 and stuck == [] and first.cancelled() and spawned[0].cancelled()


def test_a_finished_coroutine_is_described_by_its_name() -> None:
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(sleeper(0), name="nap")
        loop.run_until_complete(task)
        assert describe(task) == "nap sleeper"
    finally:
        loop.close()
