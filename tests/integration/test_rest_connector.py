"""The `rest` connector, driven only by the boutique's config.yaml entry, against the boutique
simulator over loopback HTTP: pushes in batches, the order feed paged by token, 429 honoured,
declared statuses retried."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from connectors.base import Listing, OrderEventKind, OrderLine, PartnerError, PartnerSpec, RateLimited
from connectors.rest import RestConnector
from simulators.base import SimConfig
from simulators.boutique import BoutiqueSimulator
from sync.limits import RateLimiter

SKUS = [f"SHEET-{i}" for i in range(120)]
CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"


def boutique_options() -> dict[str, Any]:
    """The shipped config.yaml's declaration, so these tests check what the demo runs."""
    options: dict[str, Any] = yaml.safe_load(CONFIG.read_text())["partners"]["boutique"]["options"]
    return options


@dataclasses.dataclass
class Boutique:
    sim: BoutiqueSimulator
    connector: RestConnector


@contextlib.asynccontextmanager
async def boutique(options: dict[str, Any] | None = None, sim_options: dict[str, Any] | None = None
                   ) -> AsyncIterator[Boutique]:
    credentials = BoutiqueSimulator.demo_credentials("boutique")
    sim = BoutiqueSimulator(SimConfig("boutique", dict(credentials), SKUS, options=sim_options or {}))
    await sim.start(port=0)
    spec = PartnerSpec("boutique", "rest", sim.base_url, dict(credentials), options or boutique_options())
    async with aiohttp.ClientSession() as session:
        connector = RestConnector(spec, session, RateLimiter.under(RestConnector.rates(spec)))
        try:
            yield Boutique(sim, connector)
        finally:
            await sim.stop()


async def test_a_push_of_120_listings_is_three_puts_of_at_most_fifty_and_the_boutique_shows_them() -> None:
    async with boutique() as shop:
        results = await shop.connector.push([Listing(sku, i) for i, sku in enumerate(SKUS)])
        assert all(r.ok for r in results)
        assert shop.sim.stats["inventory_puts"] == 3
        assert shop.sim.listings == {sku: i for i, sku in enumerate(SKUS)}


async def test_a_sku_the_boutique_does_not_carry_is_a_failed_result_and_the_rest_are_set() -> None:
    async with boutique() as shop:
        results = await shop.connector.push([Listing("SHEET-1", 4), Listing("NOT-SOLD-HERE", 2)])
        assert [(r.sku, r.ok) for r in results] == [("SHEET-1", True), ("NOT-SOLD-HERE", False)]
        assert shop.sim.listings["SHEET-1"] == 4


async def test_reconciliation_reads_what_the_boutique_shows() -> None:
    async with boutique() as shop:
        shop.sim.listings["SHEET-2"] = 9
        assert await shop.connector.read_listings(["SHEET-2", "SHEET-3"]) == {"SHEET-2": 9, "SHEET-3": 0}


async def test_the_order_feed_is_read_page_by_page_with_the_token_and_each_status_is_one_event() -> None:
    async with boutique() as shop:
        orders = [await shop.sim.record_order(SKUS[i], 1 + i % 2) for i in range(7)]
        events, cursor, pages = await read_all(shop.connector, None)
        assert pages == 3
        assert [e.kind for e in events] == [OrderEventKind.CREATED] * 7
        assert [e.order_id for e in events] == [o.order_id for o in orders]
        assert events[2].lines == (OrderLine(SKUS[2], 1),)
        again = await shop.connector.fetch_orders(cursor, 3)
        assert (again.events, again.more, again.cursor) == ([], False, cursor)
        await shop.sim.change_order(orders[0], "shipped")
        await shop.sim.change_order(orders[1], "cancelled")
        later, _, _ = await read_all(shop.connector, cursor)
        assert [(e.kind, e.order_id, e.event_id) for e in later] == [
            (OrderEventKind.SHIPPED, orders[0].order_id, f"{orders[0].order_id}:fulfilled"),
            (OrderEventKind.CANCELLED, orders[1].order_id, f"{orders[1].order_id}:cancelled")]


async def read_all(connector: RestConnector, cursor: str | None) -> tuple[list[Any], str | None, int]:
    events: list[Any] = []
    pages = 0
    while True:
        page = await connector.fetch_orders(cursor, 3)
        events += page.events
        cursor, pages = page.cursor, pages + 1
        if not page.more:
            return events, cursor, pages


async def test_a_429_is_raised_with_the_boutiques_retry_after_and_the_limiter_waits_it_out() -> None:
    async with boutique() as shop:
        shop.sim.throttle_next(1, retry_after=2)
        with pytest.raises(RateLimited) as raised:
            await shop.connector.fetch_orders(None, 10)
        assert raised.value.retry_after == 2
        assert shop.connector.limiter.would_wait("api")


async def test_the_connector_keeps_under_the_boutiques_rate_limit() -> None:
    async with boutique() as shop:
        started = time.monotonic()
        for _ in range(14):
            await shop.connector.fetch_orders(None, 5)
        assert shop.sim.stats["rate_limited"] == 0
        assert time.monotonic() - started >= 1.2   # 8 at once, then 4 a second


async def test_a_declared_status_is_retried_in_place_and_an_undeclared_one_is_not() -> None:
    async with boutique() as shop:
        shop.sim.faults.error_rate = 1.0
        with pytest.raises(PartnerError):
            await shop.connector.fetch_orders(None, 5)
        assert shop.sim.stats["errors_injected"] == 3   # retry.attempts in the declaration
    options = boutique_options()
    options["retry"] = {"statuses": [503], "attempts": 3, "backoff_s": 0.01}
    async with boutique(options) as shop:
        shop.sim.faults.error_rate = 1.0
        with pytest.raises(PartnerError):
            await shop.connector.fetch_orders(None, 5)
        assert shop.sim.stats["errors_injected"] == 1   # 500 is not declared: no retry


async def test_a_wrong_api_key_is_refused_by_the_boutique() -> None:
    async with boutique() as shop:
        shop.connector.spec.credentials["api_key"] = "ll_live_wrong"
        with pytest.raises(PartnerError, match="401"):
            await shop.connector.push([Listing("SHEET-1", 1)])
