"""HoldKeeper: expires holds on time, and finishes at start what a crash left half done.

Guarantees:
- A hold is expired within a few milliseconds of its `expires_at` (a timer armed for the soonest one),
  and exactly once: the store's claim decides between expiry, release and conversion.
- Durable: holds and their expiry are in the store. At start, holds that ended while their units are
  still held (a crash between the claim and the shards) are finished, the timer is re-armed for
  every held hold, and those that expired while the service was down are expired at once.
- A shard that does not answer (killed, restarting) is asked again until it does."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from actors.logs import reason
from inventory.commands import Failure
from inventory.holds import ExpiryQueue, HoldStatus, pair_lines
from store import holds as stored_holds
from store.holds import StoredHold

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)
RETRY_FIRST, RETRY_MOST = 0.05, 2.0  # seconds between attempts at a shard that did not answer
EXPIRY_ACTOR = "hold-expiry"


class HoldKeeper:
    def __init__(self, rt: Runtime):
        self._rt = rt
        self._queue = ExpiryQueue()
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None
        self._work: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        for hold in await stored_holds.unsettled(self._rt.read_engine):
            log.info("hold %s: finishing its %s after a restart", hold.id, hold.status)
            await self._finish(hold)
        for hold_id, expires_at in await stored_holds.held(self._rt.read_engine):
            self._queue.watch(hold_id, expires_at)
        self._timer = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        tasks = [*self._work, *([self._timer] if self._timer else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._timer = None

    def watch(self, hold_id: str, expires_at: float) -> None:
        self._queue.watch(hold_id, expires_at)
        self._wake.set()

    def forget(self, hold_id: str) -> None:
        self._queue.forget(hold_id)

    def seconds_to_next(self) -> float | None:
        next_at = self._queue.next_at()
        return None if next_at is None else next_at - time.time()

    async def settle(self, hold: StoredHold, actor: str) -> None:
        """Release the hold's units on the shards (idempotent), asking again until they answer. Run
        as its own task, so a caller that gives up does not stop it half way."""
        task = asyncio.ensure_future(self._release_units(hold, actor))
        self._work.add(task)
        task.add_done_callback(self._work.discard)
        await asyncio.shield(task)

    async def _run(self) -> None:
        while True:
            for hold_id in self._queue.due(time.time()):
                task = asyncio.ensure_future(self._expire(hold_id))
                self._work.add(task)
                task.add_done_callback(self._work.discard)
            self._wake.clear()
            wait = self.seconds_to_next()
            # asyncio.wait, not wait_for: a cancelled wait_for was seen to linger until its timeout
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait([woken], timeout=None if wait is None else max(0.0, wait))
            finally:
                woken.cancel()

    async def _expire(self, hold_id: str) -> None:
        try:
            hold = await stored_holds.get(self._rt.read_engine, hold_id)
            if hold is None or not await stored_holds.claim(
                    self._rt.engine, hold_id, HoldStatus.EXPIRED, time.time(), EXPIRY_ACTOR):
                return  # released or converted meanwhile
        except Exception:
            log.exception("hold %s: could not expire it; trying again in a second", hold_id)
            self._queue.watch(hold_id, time.time() + 1)
            return
        await self._release_units(hold, EXPIRY_ACTOR)

    async def _release_units(self, hold: StoredHold, actor: str) -> None:
        delay = RETRY_FIRST
        while True:
            try:
                # a Failure is an answer: nothing (any more) to release there
                await self._rt.desk.cancel(hold.id, [variant for variant, _ in hold.lines], actor)
                return
            except Exception as exc:  # ShardUnavailable, Ray's errors while a shard restarts
                log.warning("hold %s: the shards did not release its units yet (%s); asking again", hold.id,
                            reason(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MOST)

    async def _finish(self, hold: StoredHold) -> None:
        if hold.status != HoldStatus.CONVERTED:
            await self._release_units(hold, hold.actor or EXPIRY_ACTOR)
            return
        channel = self._rt.channel(hold.channel) or self._rt.default_channel(hold.channel)
        order_lines = hold.order_lines or []
        pairs = pair_lines(hold.lines, order_lines)
        if pairs is None or hold.order_external_id is None:
            log.error("hold %s: its conversion record is incomplete; releasing its units", hold.id)
            await self._release_units(hold, EXPIRY_ACTOR)
            return
        done = await self._rt.desk.convert_hold(hold.id, channel, hold.order_external_id, order_lines,
                                                pairs, hold.actor)
        if isinstance(done, Failure):
            log.error("hold %s: its conversion could not be finished: %s", hold.id, done.message)
