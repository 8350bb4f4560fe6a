"""The web process's view of the EventHub: one long-poll loop feeding any number of local
subscribers (SSE streams), each with a bounded queue. A subscriber that falls behind is dropped
rather than slowing the others (its browser reconnects and resumes from its Last-Event-ID).

Event data given to subscribers is plain dicts of domain data: a stock event's is `stock_data`
(levels by location id; web renders them); other topics pass through."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from actors.listener import HubListener, publish
from inventory.commands import VariantStock
from inventory.event_log import Event
from store.catalog import Catalog

log = logging.getLogger(__name__)
QUEUE_SIZE = 1_000
REPLAY = 5_000


class LiveEvent(NamedTuple):
    seq: int
    topic: str
    data: dict[str, Any]


class Dropped(Exception):
    """This subscriber fell too far behind and was cut off."""


class EventFeed:
    def __init__(self, catalog: Catalog, hub: Any):
        self._catalog = catalog
        self._hub = hub
        self._subscribers: set[asyncio.Queue[LiveEvent | None]] = set()
        self._recent: deque[LiveEvent] = deque(maxlen=REPLAY)
        self._task: asyncio.Task[None] | None = None
        self._listener = HubListener(self._deliver, self._on_reset, poll_timeout=5.0, hub=hub)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._listener.run())

    async def stop(self) -> None:
        for queue in list(self._subscribers):
            _offer(queue, None)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        """Only after the fact is committed. Goes through the hub, so every process sees it."""
        await publish(self._hub, [(topic, data)])

    async def subscribe(self, last_id: int | None = None) -> AsyncIterator[LiveEvent]:
        """Events after `last_id` still held for replay, then live ones, until dropped (Dropped)."""
        queue: asyncio.Queue[LiveEvent | None] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        try:
            if last_id is not None:
                for event in list(self._recent):
                    if event.seq > last_id:
                        yield event
            while True:
                live = await queue.get()
                if live is None:
                    raise Dropped("the event stream ended; reconnect to resume")
                yield live
        finally:
            self._subscribers.discard(queue)

    async def _on_reset(self) -> None:
        """Events were missed (the hub restarted, or this feed fell behind): end every stream, so
        each browser reconnects and re-reads what it shows rather than trusting a gap."""
        self._recent.clear()
        for queue in list(self._subscribers):
            self._subscribers.discard(queue)
            _offer_end(queue)

    async def _deliver(self, events: list[Event]) -> None:
        for event in events:
            live = self._render(event)
            if live is None:
                continue
            self._recent.append(live)
            for queue in list(self._subscribers):
                if not _offer(queue, live):
                    self._subscribers.discard(queue)
                    _offer_end(queue)

    def _render(self, event: Event) -> LiveEvent | None:
        data = event.data
        if isinstance(data, VariantStock):
            try:
                sku = self._catalog.sku(data.variant_id)
            except KeyError:
                return None  # a variant this process has not loaded yet
            return LiveEvent(event.seq, "stock", stock_data(sku, data))
        if isinstance(data, dict):
            return LiveEvent(event.seq, event.topic, data)
        return None


def stock_data(sku: str, stock: VariantStock) -> dict[str, Any]:
    """A variant's stock as events carry it: its levels as the shards hold them (location id ->
    (on hand, reserved)), with the sku and the totals the alert watcher reads."""
    on_hand = sum(pair[0] for pair in stock.levels.values())
    reserved = sum(pair[1] for pair in stock.levels.values())
    return {"variant_id": stock.variant_id, "sku": sku, "levels": dict(stock.levels),
            "available": on_hand - reserved, "backordered": stock.backordered}


def _offer(queue: asyncio.Queue[LiveEvent | None], item: LiveEvent | None) -> bool:
    try:
        queue.put_nowait(item)
    except asyncio.QueueFull:
        return False
    return True


def _offer_end(queue: asyncio.Queue[LiveEvent | None]) -> None:
    with contextlib.suppress(asyncio.QueueEmpty):
        queue.get_nowait()  # make room for the end marker
    _offer(queue, None)
