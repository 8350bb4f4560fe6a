"""Orders from a partner, polled or pushed to us by webhook, through one path: events not seen before
are applied through the intake, then recorded (after the commit); the poll cursor is stored, and the
partner's messages confirmed, only after that."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from connectors.base import OrderEvent
from store import listings as store

if TYPE_CHECKING:
    from sync.partner_sync import PartnerSync

log = logging.getLogger(__name__)


async def poll_once(sync: PartnerSync) -> int:
    taken, more = 0, True
    while more:
        page = await sync.call("poll", functools.partial(sync.connector.fetch_orders, sync.cursor,
                                                         sync.config.page_size))
        taken += await sync.take_events(page.events)
        sync.cursor = page.cursor
        await sync.save_state()
        await sync.call("confirm", functools.partial(sync.connector.confirm, page.events))
        more = page.more
    sync.counters["polls"] += 1
    sync.synced()
    await store.log_sync(sync.engine, sync.config.id, "poll", True, f"{taken} new order events",
                         synced=True)
    return taken


async def take_events(sync: PartnerSync, events: list[OrderEvent], also_seen: tuple[str, ...] = ()) -> int:
    """Apply the events not seen before, then record them (after the commit)."""
    seen = await store.seen_events(sync.engine, sync.config.id, [e.event_id for e in events])
    fresh = [e for e in events if e.event_id not in seen]
    report = await sync.intake.take(fresh)
    await store.record_events(sync.engine, sync.config.id, [*(e.event_id for e in fresh), *also_seen])
    sync.counters["orders_taken"] += report.applied
    for problem in report.problems:
        log.warning("%s: %s", sync.config.id, problem)
    for order_id in report.rejected:
        with contextlib.suppress(Exception):
            await sync.call("cancel", functools.partial(sync.connector.cancel_at_partner, order_id,
                                                        "out of stock"))
    return len(fresh)


async def take_webhook(sync: PartnerSync, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    sync.counters["webhooks"] += 1
    delivery = sync.connector.webhook_event_id(headers, body)
    if delivery and await store.seen_events(sync.engine, sync.config.id, [f"delivery:{delivery}"]):
        sync.counters["webhooks_duplicate"] += 1
        return {"status": "duplicate", "taken": 0}
    # Not through the breaker: a delivery that needs no call to the partner (Shopify's carries its
    # lines) is taken even while pushes to that partner are failing. Its own requests still take
    # their tokens from the partner's buckets; a failure answers 5xx and the partner retries.
    events = await sync.connector.parse_webhook(headers, body)
    taken = await sync.take_events(events, (f"delivery:{delivery}",) if delivery else ())
    return {"status": "ok", "taken": taken}
