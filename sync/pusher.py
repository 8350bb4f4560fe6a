"""The push loop of one partner's sync: wait for work (and for the token a whole push spends, where
there is one, so the batch holds everything that changed meanwhile), take what differs zeros first
in the connector's batch size, save the desired quantities, push, and record what the partner was
told, per listing. Pushes set absolute quantities, so a repeated push changes nothing. Each push runs
inside `traced(batch)`, which the actor points at its span (actors/tracing.py) while traces are on."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import statistics
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from connectors.base import Connector, Listing
from connectors.limits import Limiter
from store import listings as store
from sync.calls import PartnerCalls
from sync.desired import DesiredQuantities
from sync.outbox import Entry

FAILED_ITEM_RETRY = 30.0  # a listing the partner refused waits this long
IDLE_WAIT = 5.0           # seconds the loop sleeps with nothing to do before looking again


class Pusher:
    def __init__(self, partner_id: str, connector: Connector, limiter: Limiter, calls: PartnerCalls,
                 desired: DesiredQuantities, engine: Any, pushed: Callable[[], Awaitable[None]]):
        """`pushed` is called after every push is recorded (the sync publishes its status)."""
        self._partner_id, self._connector, self._limiter = partner_id, connector, limiter
        self._calls, self._desired, self._engine, self._pushed = calls, desired, engine, pushed
        self._wake = asyncio.Event()
        self.pushes = self.listings_pushed = self.push_failures = 0
        self._lags: deque[float] = deque(maxlen=5000)  # desired → pushed, seconds
        self.last_pushed_at: float | None = None
        self.caught_up = False   # every listing was told once since start
        # each listing's lag as it is pushed; the actor points this at its histogram
        self.lag_seen: Callable[[float], None] = _ignore
        self.traced: Callable[[list[Entry]], AbstractContextManager[object]] = _untraced

    def wake(self) -> None:
        """Something may differ now: look at once instead of at the next idle wake-up."""
        self._wake.set()

    async def run(self) -> None:
        outbox = self._desired.outbox
        while True:
            await self._wait_for_work()
            await self._wait_for_push_token()
            batch = outbox.take(self._connector.max_push_batch)
            if not batch:
                continue
            try:
                with self.traced(batch):
                    await self._desired.save()  # the store knows what we are about to promise
                    await self.push(batch)
            except Exception as exc:
                for entry in batch:
                    if entry.in_flight:
                        outbox.failed(entry, str(exc), 0.0)
                self.push_failures += 1
                await store.log_sync(self._engine, self._partner_id, "push", False, str(exc))
                await self._calls.pause()

    async def _wait_for_push_token(self) -> None:
        operation = self._connector.push_operation
        while operation and self._limiter.would_wait(operation):
            await asyncio.sleep(0.02)

    async def _wait_for_work(self) -> None:
        next_at = self._desired.outbox.next_ready_at()
        timeout = IDLE_WAIT if next_at is None else max(0.0, min(IDLE_WAIT, next_at - time.time()))
        # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that comes as wake() is
        # called, and this loop would outlive PartnerSync.stop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        self._wake.clear()

    async def push(self, batch: list[Entry]) -> None:
        sent = {entry.sku: entry.desired for entry in batch}
        listings = [Listing(sku, quantity, self._desired.gtin(sku)) for sku, quantity in sent.items()]
        results = await self._calls.call("push", functools.partial(self._connector.push, listings))
        by_sku = {result.sku: result for result in results}
        rows: list[tuple[int, int | None, float | None, str]] = []
        now = time.time()
        for entry in batch:
            result = by_sku.get(entry.sku)
            variant_id = self._desired.catalog_id(entry.sku)
            if result is not None and result.ok:
                self._lags.append(now - entry.desired_at)
                self.lag_seen(now - entry.desired_at)
                if self._desired.buffers is not None and self.caught_up:
                    self._desired.buffers.pushed(now - entry.desired_at)
                self._desired.outbox.pushed(entry, sent[entry.sku])
                rows.append((variant_id, sent[entry.sku], now, ""))
            else:
                error = result.error if result is not None else "the partner did not answer for it"
                self._desired.outbox.failed(entry, error, FAILED_ITEM_RETRY)
                rows.append((variant_id, None, None, error))
        # The catch-up after a start (every listing at once, through the partner's rate limit) says
        # nothing of how fast a change reaches the partner: auto buffers take their lag from after it.
        self.caught_up = self.caught_up or not self._desired.outbox.pending()
        await store.save_pushed(self._engine, self._partner_id, rows)
        ok = sum(1 for r in rows if r[1] is not None)
        self.pushes += 1
        self.listings_pushed += ok
        self.last_pushed_at = time.time()
        await store.log_sync(self._engine, self._partner_id, "push", ok == len(rows),
                             f"{ok} of {len(rows)} listings", synced=ok > 0)
        await self._pushed()

    def figures(self) -> dict[str, Any]:
        lags = sorted(self._lags)
        return {
            "lag_p50_s": round(statistics.median(lags), 4) if lags else None,
            "lag_p99_s": round(lags[min(len(lags) - 1, int(len(lags) * 0.99))], 4) if lags else None,
        }

    def counters(self) -> dict[str, int]:
        return {"pushes": self.pushes, "listings_pushed": self.listings_pushed,
                "push_failures": self.push_failures}


def _ignore(_lag: float) -> None:
    pass


def _untraced(_batch: list[Entry]) -> AbstractContextManager[object]:
    return nullcontext()
