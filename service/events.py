"""The web process's view of the EventHub: one long-poll loop feeding any number of local
subscribers (SSE streams), each with a bounded queue. A subscriber that falls behind is dropped
rather than slowing the others (its browser reconnects and resumes from its Last-Event-ID).

The hub carries typed facts (inventory.events); subscribers get each as a LiveEvent whose data is a
plain, JSON-ready dict (`live_data`): a stock or variant fact's is `stock_data` (levels by location
id; web renders them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict
from typing import Any, NamedTuple

from actors.listener import HubListener, publish
from inventory.commands import VariantStock
from inventory.event_log import Event
from inventory.events import (
    AlertAcknowledged,
    AlertRaised,
    CatalogChanged,
    DomainEvent,
    PartnerStatusChanged,
    StockChanged,
    VariantChanged,
)
from inventory.kits import ComponentLevels, KitStock
from store.catalog import Catalog
from store.kits import component_levels

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
        self._components = ComponentLevels()

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

    async def publish(self, fact: DomainEvent) -> None:
        """Only after the fact is committed. Goes through the hub, so every process sees it."""
        await publish(self._hub, [fact])

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
            if isinstance(event.fact, CatalogChanged):
                await self._catalog.refresh()  # a kit made in another process
            for live in [self._render(event), *await self._kit_events(event)]:
                if live is None:
                    continue
                self._recent.append(live)
                for queue in list(self._subscribers):
                    if not _offer(queue, live):
                        self._subscribers.discard(queue)
                        _offer_end(queue)

    async def _kit_events(self, event: Event) -> list[LiveEvent]:
        """A component's stock changed: so did every kit made of it, at once (same sequence number:
        one fact). The other components' levels come from earlier events, or once from the store."""
        if not isinstance(event.fact, StockChanged):
            return []
        stock = event.fact.stock
        kits = self._catalog.kits_using(stock.variant_id)
        if not kits:
            return []
        self._components.update(stock.variant_id, stock.levels)
        missing = self._components.missing(kits)
        if missing:
            self._components.seed(await component_levels(self._catalog.engine, missing))
        return [LiveEvent(event.seq, "stock", kit_data(self._catalog.sku(kit.variant_id),
                                                       self._components.stock(kit))) for kit in kits]

    def _render(self, event: Event) -> LiveEvent | None:
        try:
            return LiveEvent(event.seq, event.topic, live_data(event.fact, self._catalog.sku))
        except KeyError:
            return None  # a variant this process has not loaded yet


def live_data(fact: DomainEvent, sku_of: Callable[[int], str]) -> dict[str, Any]:
    """A fact as subscribers read it (the browsers as JSON, the alert watcher)."""
    match fact:
        case StockChanged(stock) | VariantChanged(stock):
            return stock_data(sku_of(stock.variant_id), stock)
        case AlertRaised():
            return {**asdict(fact), "state": "open"}
        case AlertAcknowledged():
            return {**asdict(fact), "state": "acknowledged"}
        case PartnerStatusChanged(partner_id, figures):
            return {**figures, "id": partner_id}
        case CatalogChanged(products):
            return {"products": list(products)}
    raise TypeError(f"not a domain event: {fact!r}")


def stock_data(sku: str, stock: VariantStock) -> dict[str, Any]:
    """A variant's stock as events carry it: its levels as the shards hold them (location id ->
    (on hand, reserved)), with the sku and the totals the alert watcher reads."""
    on_hand = sum(pair[0] for pair in stock.levels.values())
    reserved = sum(pair[1] for pair in stock.levels.values())
    return {"variant_id": stock.variant_id, "sku": sku, "levels": dict(stock.levels),
            "available": on_hand - reserved, "backordered": stock.backordered}


def kit_data(sku: str, stock: KitStock) -> dict[str, Any]:
    """A kit's stock as events carry it: `stock_data`'s shape in kits, with `totals` (on hand,
    reserved), since a kit's totals are not the sums of its locations' figures (inventory.kits)."""
    return {"variant_id": stock.variant_id, "sku": sku, "levels": dict(stock.levels),
            "available": stock.available, "backordered": 0,
            "totals": [stock.on_hand, stock.on_hand - stock.available]}


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
