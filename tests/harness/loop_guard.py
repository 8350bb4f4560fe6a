"""The tasks a test left running on the shared event loop, named and cancelled.

Every test and fixture runs on one session-scoped loop (pyproject: asyncio_default_test_loop_scope),
so a task a test starts and does not finish keeps running during every later test. The worst case is
a test that hangs until pytest-timeout: its signal method raises in the main thread, which ends
`run_until_complete` but leaves the test's own task (and everything it started: a simulator's folder
watch, a sync's loops) suspended on the loop, to wake up in someone else's test. Cancelling what a
test left behind, and saying where each task was waiting, keeps the next test clean and makes the
hang diagnosable: pytest-timeout's stack dump only shows the loop's select(), not the tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection

SETTLE_S = 10.0   # how long the cancelled tasks (a test's `finally`, a stop()) get to finish
ROUNDS = 3        # cancelled tasks may start others while they unwind; look again this many times
FRAMES = 8        # innermost awaits shown of where a task waits


def leftovers(before: Collection[asyncio.Task[object]]) -> list[asyncio.Task[object]]:
    """Tasks still pending that were not there before, other than the one asking."""
    current = asyncio.current_task()
    return [task for task in asyncio.all_tasks()
            if task is not current and not task.done() and task not in before]


def describe(task: asyncio.Task[object]) -> str:
    """The task's name, its coroutine and the innermost awaits it is suspended in (Task.get_stack
    gives only the outermost frame of a suspended coroutine, so the await chain is walked here)."""
    coro = task.get_coro()
    chain = []
    step: object = coro
    while step is not None and len(chain) < 50:
        frame = next((getattr(step, a) for a in ("cr_frame", "gi_frame", "ag_frame") if getattr(step, a, None)),
                     None)
        if frame is None:
            break
        chain.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno})")
        step = next((getattr(step, a) for a in ("cr_await", "gi_yieldfrom", "ag_await") if hasattr(step, a)),
                    None)
    name = getattr(coro, "__qualname__", repr(coro))
    where = " <- ".join(reversed(chain[-FRAMES:]))
    return f"{task.get_name()} {name}" + (f" waiting in {where}" if where else "")


async def cancel_leftovers(before: Collection[asyncio.Task[object]],
                           settle: float = SETTLE_S) -> tuple[list[str], list[str]]:
    """Cancel the tasks started since `before` that are still pending, and wait (at most `settle`
    seconds in all) for them to finish. Returns what was left (described before cancelling: where
    each one waited), and what still had not finished once the time was up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    found: list[str] = []
    cancelled: set[asyncio.Task[object]] = set()
    for _ in range(ROUNDS):
        left = [task for task in leftovers(before) if task not in cancelled]
        if not left:
            break
        found += [describe(task) for task in left]
        for task in left:
            task.cancel()
        cancelled.update(left)
        await asyncio.wait(left, timeout=max(0.0, deadline - loop.time()))
    for task in cancelled:
        if task.done() and not task.cancelled():
            with contextlib.suppress(BaseException):
                task.exception()   # retrieved: no "exception was never retrieved" in a later test
    stuck = [describe(task) for task in cancelled if not task.done()]
    return found, stuck
