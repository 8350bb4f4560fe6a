"""Orders from a partner, polled or pushed to us by webhook, through one path: events not seen before
are applied through the intake, then recorded (after the commit); the poll cursor is stored, and the
partner's messages confirmed, only after that. A webhook delivery is deduped on its delivery id."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from connectors.base import Connector, OrderEvent, PartnerRejected
from inventory.desk import Channel
from store import listings as store
from sync.calls import PartnerCalls
from sync.config import PartnerConfig
from sync.dead_letters import DeadLetters
from sync.intake import OrderIntake
from sync.state import StoredState

log = logging.getLogger(__name__)
# What a connector raises for a body it cannot read (its own PartnerRejected, or a shape it did not
# expect); a partner outage (PartnerError) is not among them and still answers 5xx, to be retried.
MALFORMED = (PartnerRejected, ValueError, KeyError, TypeError, AttributeError, IndexError)


class OrderTaker:
    def __init__(self, config: PartnerConfig, connector: Connector, calls: PartnerCalls, state: StoredState,
                 intake: OrderIntake, engine: Any, restate: Callable[[Iterable[str]], None] | None = None,
                 dead_letters: DeadLetters | None = None):
        """`restate(skus)` has those listings pushed again (connectors that `restate_after_sale`)."""
        self._config, self._connector, self._calls, self._state = config, connector, calls, state
        self._intake, self._engine, self._restate = intake, engine, restate
        self.dead_letters = dead_letters
        self.polls = self.orders_taken = self.webhooks = self.webhooks_duplicate = 0
        self.last_polled_at: float | None = None

    def follow_channel(self, channel: Channel) -> None:
        """The channel's locations were read again (a location added after start)."""
        self._intake.channel = channel

    async def poll_forever(self) -> None:
        while True:
            jitter = random.uniform(-self._config.poll_jitter, self._config.poll_jitter)
            await asyncio.sleep(max(0.05, self._config.poll_interval + jitter))
            try:
                await self.poll_once()
            except Exception as exc:
                log.warning("%s: poll failed: %s", self._config.id, exc)
                await store.log_sync(self._engine, self._config.id, "poll", False, str(exc))
                await self._calls.pause()

    async def poll_once(self) -> int:
        taken, more = 0, True
        while more:
            page = await self._calls.call("poll", functools.partial(
                self._connector.fetch_orders, self._state.cursor, self._config.page_size))
            taken += await self.take_events(page.events)
            await self._state.advance(page.cursor)
            await self._calls.call("confirm", functools.partial(self._connector.confirm, page.events))
            more = page.more
        self.polls += 1
        self.last_polled_at = time.time()
        await store.log_sync(self._engine, self._config.id, "poll", True, f"{taken} new order events",
                             synced=True)
        return taken

    async def take_events(self, events: list[OrderEvent], also_seen: tuple[str, ...] = ()) -> int:
        """Apply the events not seen before, then record them (after the commit)."""
        partner_id = self._config.id
        seen = await store.seen_events(self._engine, partner_id, [e.event_id for e in events])
        fresh = [e for e in events if e.event_id not in seen]
        report = await self._intake.take(fresh)
        if self.dead_letters is not None:   # kept before the events count as seen: none is lost
            await self.dead_letters.keep(report.dead)
        await store.record_events(self._engine, partner_id, [*(e.event_id for e in fresh), *also_seen])
        self.orders_taken += report.applied
        for problem in report.problems:
            log.warning("%s: %s", partner_id, problem)
        if report.answers:
            if self._restate is not None and self._connector.restate_after_sale:
                self._restate(line.sku for answer in report.answers for line in answer.lines if line.sku)
            try:  # not through the breaker: the orders have committed, and the answer is only kept
                await self._connector.answer(report.answers)   # until confirm() sends it (EDI 855)
            except Exception as exc:
                log.warning("%s: keeping the answers to %d orders failed: %s", partner_id,
                            len(report.answers), exc)
        for order_id in report.rejected:
            cancel = functools.partial(self._connector.cancel_at_partner, order_id, "out of stock")
            with contextlib.suppress(Exception):
                await self._calls.call("cancel", cancel)
        return len(fresh)

    async def take_webhook(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        """A delivery whose signature was verified; answers after its orders have committed."""
        self.webhooks += 1
        delivery = self._connector.webhook_event_id(headers, body)
        if delivery and await store.seen_events(self._engine, self._config.id, [f"delivery:{delivery}"]):
            self.webhooks_duplicate += 1
            return {"status": "duplicate", "taken": 0}
        # Not through the breaker: a delivery that needs no call to the partner (Shopify's carries its
        # lines) is taken even while pushes to that partner are failing. Its own requests still take
        # their tokens from the partner's buckets; a failure answers 5xx and the partner retries.
        try:
            events = await self._connector.parse_webhook(headers, body)
        except MALFORMED as exc:   # signed, so the partner sent it; resending will not mend it
            log.warning("%s: a signed delivery could not be read: %s", self._config.id, exc)
            await store.log_sync(self._engine, self._config.id, "webhook", False, f"malformed: {exc}")
            return {"status": "malformed", "taken": 0, "error": str(exc)[:300]}
        taken = await self.take_events(events, (f"delivery:{delivery}",) if delivery else ())
        return {"status": "ok", "taken": taken}

    def counters(self) -> dict[str, int]:
        return {"polls": self.polls, "orders_taken": self.orders_taken, "webhooks": self.webhooks,
                "webhooks_duplicate": self.webhooks_duplicate}
