"""The web process's event feed: subscribers get rendered events, replay after a reconnect, and are
cut off (to reconnect and re-read) when the feed missed events. No Ray: events are handed in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from inventory.commands import VariantStock
from inventory.event_log import Event
from inventory.events import AlertRaised, StockChanged
from inventory.kits import Kit
from service.events import Dropped, EventFeed

QUEEN_SET = Kit(9, ((7, 1), (8, 2)))


class FakeCatalog:
    def sku(self, variant_id: int) -> str:
        return {7: "SHEET-Q-WHT", 8: "PILLOW-STD-WHT", 9: "SET-Q-WHT"}[variant_id]

    def kits_using(self, variant_id: int) -> list[Kit]:
        return []

    def rank(self) -> dict[int, int]:
        return {1: 0}

    def location_code(self, location_id: int) -> str:
        return "WH-EAST"


class KitCatalog(FakeCatalog):
    def kits_using(self, variant_id: int) -> list[Kit]:
        return [QUEEN_SET] if variant_id in QUEEN_SET.component_ids else []


def feed(catalog: Any = None) -> EventFeed:
    return EventFeed(catalog or FakeCatalog(), hub=None)


async def test_a_components_stock_event_brings_its_kits_stock_in_kits_with_it() -> None:
    events = feed(KitCatalog())
    events._components.seed({8: {1: (7, 1), 2: (2, 0)}})  # as the store held the pillowcases
    stream = events.subscribe()
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0)
    await events._deliver([Event(5, StockChanged(VariantStock(7, {1: (10, 3), 2: (1, 0)}, 0)))])
    sheet = await asyncio.wait_for(first, 1)
    kit = await asyncio.wait_for(stream.__anext__(), 1)
    assert (sheet.data["sku"], kit.seq, kit.topic, kit.data["sku"]) == ("SHEET-Q-WHT", 5, "stock", "SET-Q-WHT")
    # east: 7 sheets and 3 pairs free (on hand 10 and 3); west: 1 sheet, 1 pair; in all, 8 pairs' worth
    assert kit.data["levels"] == {1: (3, 0), 2: (1, 0)}
    assert (kit.data["available"], kit.data["totals"]) == (4, [4, 0])


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
