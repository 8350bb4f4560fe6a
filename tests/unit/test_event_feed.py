"""The web process's event feed: subscribers get rendered events, replay after a reconnect, and are
cut off (to reconnect and re-read) when the feed missed events. No Ray: events are handed in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from inventory.commands import VariantStock
from inventory.event_log import Event
from inventory.events import AlertRaised, StockChanged
from service.events import Dropped, EventFeed


class FakeCatalog:
    def sku(self, variant_id: int) -> str:
        return {7: "SHEET-Q-WHT"}[variant_id]

    def rank(self) -> dict[int, int]:
        return {1: 0}

    def location_code(self, location_id: int) -> str:
        return "WH-EAST"


def feed() -> EventFeed:
    catalog: Any = FakeCatalog()
    return EventFeed(catalog, hub=None)


async def test_a_subscriber_gets_stock_events_rendered_with_sku_and_available() -> None:
    events = feed()
    stream = events.subscribe()
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    await events._deliver([Event(5, StockChanged(VariantStock(7, {1: (10, 3)}, 0)))])
    live = await asyncio.wait_for(first, 1)
    assert (live.seq, live.topic, live.data["sku"], live.data["available"]) == (5, "stock", "SHEET-Q-WHT", 7)


async def test_a_reconnecting_subscriber_gets_what_it_missed_after_its_last_id() -> None:
    events = feed()
    await events._deliver([Event(n, AlertRaised(n, "low_stock", f"SKU-{n}", "low", 0.0)) for n in (1, 2)])
    stream = events.subscribe(last_id=1)
    assert (await asyncio.wait_for(stream.__anext__(), 1)).seq == 2


async def test_missed_events_end_every_stream_so_browsers_reconnect_and_re_read() -> None:
    events = feed()
    stream = events.subscribe()
    waiting = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    await events._on_reset()
    with pytest.raises(Dropped):
        await asyncio.wait_for(waiting, 1)
