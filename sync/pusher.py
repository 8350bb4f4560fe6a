"""The push loop of one partner's sync: wait for work (and for the token a whole push spends, where
there is one), take what differs zeros first in the connector's batch size, save the desired
quantities, push, and record what the partner was told, per listing."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from typing import TYPE_CHECKING

from connectors.base import Listing
from store import listings as store
from sync.outbox import Entry

if TYPE_CHECKING:
    from sync.partner_sync import PartnerSync

FAILED_ITEM_RETRY = 30.0  # a listing the partner refused waits this long


async def push_forever(sync: PartnerSync) -> None:
    while True:
        await _wait_for_work(sync)
        if not sync.connected:
            continue
        await _wait_for_push_token(sync)
        batch = sync.outbox.take(sync.connector.max_push_batch)
        if not batch:
            continue
        try:
            await sync.save_desired()  # the store knows what we are about to promise
            await sync.push(batch)
        except Exception as exc:
            for entry in batch:
                if entry.in_flight:
                    sync.outbox.failed(entry, str(exc), 0.0)
            sync.counters["push_failures"] += 1
            await store.log_sync(sync.engine, sync.config.id, "push", False, str(exc))
            await sync.pause()


async def _wait_for_push_token(sync: PartnerSync) -> None:
    operation = sync.connector.push_operation
    while operation and sync.connector.limiter.would_wait(operation):
        await asyncio.sleep(0.02)


async def _wait_for_work(sync: PartnerSync) -> None:
    next_at = sync.outbox.next_ready_at()
    timeout = 5.0 if next_at is None else max(0.0, min(5.0, next_at - time.time()))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sync.wake.wait(), timeout)
    sync.wake.clear()


async def push(sync: PartnerSync, batch: list[Entry]) -> None:
    sent = {entry.sku: entry.desired for entry in batch}
    listings = [Listing(sku, quantity) for sku, quantity in sent.items()]
    results = await sync.call("push", functools.partial(sync.connector.push, listings))
    by_sku = {result.sku: result for result in results}
    rows: list[tuple[int, int | None, float | None, str]] = []
    now = time.time()
    for entry in batch:
        result = by_sku.get(entry.sku)
        if result is not None and result.ok:
            sync.lags.append(now - entry.desired_at)
            sync.outbox.pushed(entry, sent[entry.sku])
            rows.append((sync.catalog_id(entry.sku), sent[entry.sku], now, ""))
        else:
            error = result.error if result is not None else "the partner did not answer for it"
            sync.outbox.failed(entry, error, FAILED_ITEM_RETRY)
            rows.append((sync.catalog_id(entry.sku), None, None, error))
    await store.save_pushed(sync.engine, sync.config.id, rows)
    ok = sum(1 for r in rows if r[1] is not None)
    sync.counters["pushes"] += 1
    sync.counters["listings_pushed"] += ok
    sync.synced()
    await store.log_sync(sync.engine, sync.config.id, "push", ok == len(rows),
                         f"{ok} of {len(rows)} listings", synced=ok > 0)
    await sync.publish("partner", sync.status())
