"""SquareConnector against SquareSimulator over loopback HTTP: auth, counts, orders, webhooks, limits."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.base import (
    AuthExpired,
    Listing,
    OrderEventKind,
    OrderLine,
    PartnerError,
    PartnerSpec,
    RateLimited,
)
from connectors.square import SquareConnector
from connectors.square_cursor import PollCursor
from connectors.square_format import SIGNATURE_HEADER, SQUARE_VERSION, physical_counts
from simulators.base import SimConfig, bound_port
from simulators.square import SquareSimulator
from sync.limits import RateLimiter

SKUS = [f"SHEET-{i}" for i in range(5)]


@dataclasses.dataclass
class Square:
    sim: SquareSimulator
    connector: SquareConnector
    session: aiohttp.ClientSession

    async def raw(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A call to the simulator as any Square client would make it, with the connector's token."""
        headers = {"Authorization": f"Bearer {self.connector.spec.credentials['access_token']}",
                   "Square-Version": SQUARE_VERSION}
        async with self.session.post(self.sim.base_url + path, json=body, headers=headers) as answer:
            return answer.status, await answer.json()


@contextlib.asynccontextmanager
async def square(skus: list[str] = SKUS, options: dict[str, Any] | None = None, start: bool = True,
                 **config: Any) -> AsyncIterator[Square]:
    credentials = SquareSimulator.demo_credentials("square-test")
    sim = SquareSimulator(SimConfig(partner_id="square-test", credentials=dict(credentials), skus=skus,
                                    options=dict(options or {}), **config))
    await sim.start(port=0)
    session = aiohttp.ClientSession()
    spec = PartnerSpec("square-test", "square", sim.base_url, dict(credentials), dict(options or {}))
    connector = SquareConnector(spec, session, RateLimiter.under(SquareConnector.rates(spec)))
    try:
        if start:
            await connector.start()
        yield Square(sim, connector, session)
    finally:
        await connector.close()
        await session.close()
        await sim.stop()


class Receiver:
    """Our webhook ingress, reduced to recording what arrives; answers `statuses` first, then 200."""

    def __init__(self, statuses: tuple[int, ...] = ()):
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self._statuses = list(statuses)
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        self.deliveries.append((dict(request.headers), await request.read()))
        return web.Response(status=self._statuses.pop(0) if self._statuses else 200)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.add_routes([web.post("/webhooks/square", self._handle)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{bound_port(site)}/webhooks/square"
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout: float = 5.0, kind: str | None = None) -> None:
        """Until `count` deliveries (of event type `kind`, when given) have arrived."""
        deadline = time.monotonic() + timeout
        while len(self.of_type(kind)) < count:
            assert time.monotonic() < deadline, f"{len(self.of_type(kind))} of {count} webhooks arrived"
            await asyncio.sleep(0.01)

    def of_type(self, kind: str | None) -> list[tuple[dict[str, str], bytes]]:
        return [d for d in self.deliveries if kind is None or json.loads(d[1])["type"] == kind]


# --- auth ----------------------------------------------------------------------------------------

async def test_start_gets_a_token_finds_the_store_and_pages_through_the_catalog() -> None:
    async with square(options={"page_size": 2}) as sq:
        creds = sq.connector.spec.credentials
        assert creds["access_token"] in sq.sim.tokens and creds["expires_at"]
        assert sq.sim.stats["token_refreshes"] == 1
        assert sq.sim.stats["calls:api"] == 1 + 3  # locations, then three catalog pages of two
        assert await sq.connector.read_listings(SKUS) == dict.fromkeys(SKUS, 0)


async def test_a_token_about_to_expire_is_refreshed_before_it_is_used() -> None:
    async with square(token_ttl=1.0) as sq:
        first, refreshes = sq.connector.spec.credentials["access_token"], sq.sim.stats["token_refreshes"]
        await asyncio.sleep(0.85)
        assert (await sq.connector.push([Listing("SHEET-0", 4)]))[0].ok
        assert sq.connector.spec.credentials["access_token"] != first
        assert sq.sim.stats["token_refreshes"] == refreshes + 1
        assert sq.sim.stats["expired_token_refused"] == 0


async def test_a_token_square_calls_expired_is_refreshed_once_and_the_call_retried() -> None:
    async with square() as sq:
        sq.sim.tokens[sq.connector.spec.credentials["access_token"]] = time.time() - 1  # expired early
        assert await sq.connector.read_listings(["SHEET-1"]) == {"SHEET-1": 0}
        assert sq.sim.stats["expired_token_refused"] == 1 and sq.sim.stats["token_refreshes"] == 2


async def test_a_token_square_does_not_know_is_replaced_by_a_refresh() -> None:
    async with square() as sq:
        sq.connector.spec.credentials["access_token"] = "EAAA-never-issued"
        assert (await sq.connector.push([Listing("SHEET-1", 2)]))[0].ok
        assert sq.connector.spec.credentials["access_token"] in sq.sim.tokens
        assert sq.sim.stats["token_refreshes"] == 2


async def test_a_rotated_refresh_token_is_written_back_to_the_credentials() -> None:
    async with square(options={"rotate_refresh_token": True}) as sq:
        assert sq.connector.spec.credentials["refresh_token"] == sq.sim.refresh_token
        assert sq.sim.config.credentials["refresh_token"] != sq.sim.refresh_token


async def test_a_refused_refresh_token_is_auth_expired() -> None:
    async with square(start=False) as sq:
        sq.connector.spec.credentials["refresh_token"] = "EQAA-revoked"
        with pytest.raises(AuthExpired):
            await sq.connector.start()


async def test_the_simulator_refuses_an_expired_token_the_way_square_does() -> None:
    async with square() as sq:
        sq.sim.tokens[sq.connector.spec.credentials["access_token"]] = time.time() - 1
        status, payload = await sq.raw("/v2/inventory/counts/batch-retrieve", {})
        assert status == 401
        assert payload["errors"][0]["category"] == "AUTHENTICATION_ERROR"
        assert payload["errors"][0]["code"] == "ACCESS_TOKEN_EXPIRED"


# --- counts --------------------------------------------------------------------------------------

async def test_a_push_sets_the_shown_quantity_at_the_store() -> None:
    async with square() as sq:
        results = await sq.connector.push([Listing("SHEET-0", 53), Listing("SHEET-1", 0)])
        assert all(r.ok for r in results)
        assert sq.sim.listings["SHEET-0"] == 53 and sq.sim.listings["SHEET-1"] == 0
        assert await sq.connector.read_listings(["SHEET-0", "SHEET-1"]) == {"SHEET-0": 53, "SHEET-1": 0}


async def test_many_listings_go_in_calls_of_a_hundred_changes() -> None:
    skus = [f"SHEET-{i}" for i in range(250)]
    async with square(skus=skus) as sq:
        before = sq.sim.stats["calls:api"]
        results = await sq.connector.push([Listing(sku, i) for i, sku in enumerate(skus)])
        assert all(r.ok for r in results) and [r.sku for r in results] == skus
        assert sq.sim.stats["calls:api"] - before == 3
        assert sq.sim.listings == {sku: i for i, sku in enumerate(skus)}
        shown = await sq.connector.read_listings(skus)
        assert shown == {sku: i for i, sku in enumerate(skus)}


async def test_a_sku_square_does_not_know_fails_alone() -> None:
    async with square() as sq:
        results = await sq.connector.push([Listing("SHEET-0", 3), Listing("PILLOW-9", 3)])
        assert results[0].ok and not results[1].ok and "catalog" in results[1].error


async def test_an_error_inside_a_200_fails_only_its_listing() -> None:
    async with square() as sq:
        sq.connector._ids["SHEET-2"] = "DELETEDVARIATION"  # deleted at Square since discovery
        results = await sq.connector.push([Listing(sku, 7) for sku in SKUS])
        assert [r.ok for r in results] == [True, True, False, True, True]
        assert "NOT_FOUND" in results[2].error
        assert sq.sim.listings["SHEET-3"] == 7


async def test_a_count_older_than_the_one_shown_changes_nothing_as_at_square() -> None:
    async with square() as sq:
        await sq.connector.push([Listing("SHEET-0", 10)])
        ids, location = {"SHEET-0": sq.sim.variation_ids["SHEET-0"]}, sq.sim.location_id
        stale = physical_counts([Listing("SHEET-0", 99)], ids, location, time.time() - 60)
        status, _ = await sq.raw("/v2/inventory/changes/batch-create", {"idempotency_key": "k-old", "changes": stale})
        assert status == 200 and sq.sim.listings["SHEET-0"] == 10
        assert sq.sim.stats["stale_counts_ignored"] == 1


async def test_the_same_idempotency_key_is_applied_once_and_answered_alike() -> None:
    async with square() as sq:
        ids, location = {"SHEET-0": sq.sim.variation_ids["SHEET-0"]}, sq.sim.location_id
        body = {"idempotency_key": "k-1", "changes": physical_counts([Listing("SHEET-0", 5)], ids, location,
                                                                     time.time())}
        first = await sq.raw("/v2/inventory/changes/batch-create", body)
        sq.sim.listings["SHEET-0"] = 2  # sold at the till meanwhile
        again = await sq.raw("/v2/inventory/changes/batch-create", body)
        assert again == first and sq.sim.listings["SHEET-0"] == 2


# --- orders --------------------------------------------------------------------------------------

async def test_till_sales_are_polled_page_by_page_and_a_page_read_twice_is_harmless() -> None:
    async with square(initial_quantity=50) as sq:
        orders = [await sq.sim.record_order(SKUS[i % 5], 1 + i % 2) for i in range(7)]
        pages, cursor = [], None
        while True:
            page = await sq.connector.fetch_orders(cursor, page_size=3)
            again = await sq.connector.fetch_orders(cursor, page_size=3)
            assert (again.events, again.more) == (page.events, page.more)
            pages.append(page)
            cursor = page.cursor
            if not page.more:
                break
        assert [len(p.events) for p in pages] == [3, 3, 1]
        events = [e for p in pages for e in p.events]
        assert [e.event_id for e in events] == [f"{o.order_id}:sale" for o in orders]
        assert all(e.kind is OrderEventKind.SALE for e in events)
        assert events[1].lines == (OrderLine("SHEET-1", 2),)


async def test_a_cancelled_sale_is_polled_as_a_cancellation() -> None:
    async with square(initial_quantity=5) as sq:
        order = await sq.sim.record_order("SHEET-0", 1)
        first = await sq.connector.fetch_orders(None, 10)
        await sq.sim.change_order(order, "cancelled")
        later = await sq.connector.fetch_orders(first.cursor, 10)
        assert [e.event_id for e in later.events] == [f"{order.order_id}:cancelled"]
        assert later.events[0].kind is OrderEventKind.CANCELLED


async def test_an_offline_sale_that_synced_late_is_found_by_the_next_sweep() -> None:
    async with square(initial_quantity=5) as sq:
        first = await sq.connector.fetch_orders(None, 10)
        late = sq.sim.record_offline_sale("SHEET-3", 2, age=48 * 3600)
        between = await sq.connector.fetch_orders(first.cursor, 10)
        assert between.events == []  # between sweeps the poll looks back only a little
        assert between.cursor is not None
        due = dataclasses.replace(PollCursor.decode(between.cursor), last_sweep=0.0).encode()
        swept = await sq.connector.fetch_orders(due, 10)
        assert [e.event_id for e in swept.events] == [f"{late.order_id}:sale"]


# --- webhooks ------------------------------------------------------------------------------------

async def test_a_signed_till_sale_webhook_is_accepted_and_becomes_the_same_event_as_a_poll() -> None:
    async with Receiver() as ingress, square(initial_quantity=5, webhook_url=ingress.url) as sq:
        order = await sq.sim.record_order("SHEET-2", 2)
        await ingress.wait_for(1, kind="order.updated")
        headers, body = ingress.of_type("order.updated")[0]
        assert sq.connector.verify_webhook(headers, body, ingress.url)
        events = await sq.connector.parse_webhook(headers, body)
        assert [(e.event_id, e.kind, e.lines) for e in events] == [
            (f"{order.order_id}:sale", OrderEventKind.SALE, (OrderLine("SHEET-2", 2),))]
        polled = await sq.connector.fetch_orders(None, 10)
        assert [e.event_id for e in polled.events] == [events[0].event_id]
        assert sq.connector.webhook_event_id(headers, body) == json.loads(body)["event_id"]


async def test_a_tampered_body_signature_or_url_is_refused() -> None:
    async with Receiver() as ingress, square(initial_quantity=5, webhook_url=ingress.url) as sq:
        await sq.sim.record_order("SHEET-0", 1)
        await ingress.wait_for(1, kind="order.updated")
        headers, body = ingress.of_type("order.updated")[0]
        verify = sq.connector.verify_webhook
        assert not verify(headers, body.replace(b'"COMPLETED"', b'"CANCELED"'), ingress.url)
        forged = {**{k: v for k, v in headers.items() if k.lower() != SIGNATURE_HEADER},
                  SIGNATURE_HEADER: "AAAA" + headers[SIGNATURE_HEADER][4:]}
        assert not verify(forged, body, ingress.url)
        assert not verify({}, body, ingress.url)
        assert not verify(headers, body, ingress.url.replace("/webhooks/square", "/other"))


async def test_a_retried_or_duplicated_delivery_carries_the_same_event_id() -> None:
    async with Receiver(statuses=(500,)) as ingress, square(
            initial_quantity=5, webhook_url=ingress.url, duplicate_rate=1.0, retry_delays=(0.05,)) as sq:
        await sq.sim.record_order("SHEET-4", 1)
        await ingress.wait_for(3, kind="order.updated")  # refused, retried, and the duplicate
        ids = {sq.connector.webhook_event_id(h, b) for h, b in ingress.of_type("order.updated")}
        assert len(ids) == 1 and None not in ids
        assert all(sq.connector.verify_webhook(h, b, ingress.url) for h, b in ingress.deliveries)


async def test_a_cancel_at_the_till_arrives_as_a_cancelled_event_by_webhook() -> None:
    async with Receiver() as ingress, square(initial_quantity=5, webhook_url=ingress.url) as sq:
        order = await sq.sim.record_order("SHEET-1", 1)
        await sq.sim.change_order(order, "cancelled")
        await ingress.wait_for(2, kind="order.updated")
        headers, body = ingress.of_type("order.updated")[1]
        events = await sq.connector.parse_webhook(headers, body)
        assert [(e.event_id, e.kind) for e in events] == [(f"{order.order_id}:cancelled", OrderEventKind.CANCELLED)]


# --- limits and failures -------------------------------------------------------------------------

async def test_squares_429_is_raised_with_its_retry_after_and_the_limiter_then_waits() -> None:
    async with square() as sq:
        sq.sim.throttle_next(1, retry_after=1.0)
        with pytest.raises(RateLimited) as raised:
            await sq.connector.read_listings(["SHEET-0"])
        assert raised.value.retry_after == 1.0
        assert sq.connector.limiter.would_wait("api")
        began = time.monotonic()
        assert await sq.connector.read_listings(["SHEET-0"]) == {"SHEET-0": 0}
        assert time.monotonic() - began >= 0.9


async def test_pushing_many_skus_stays_under_squares_limit() -> None:
    skus = [f"SHEET-{i}" for i in range(1000)]
    async with square(skus=skus) as sq:
        listings = [Listing(sku, 3) for sku in skus]
        chunks = [listings[i:i + 100] for i in range(0, len(listings), 100)]
        results = await asyncio.gather(*(sq.connector.push(chunk) for chunk in chunks))
        assert all(r.ok for chunk in results for r in chunk)
        assert await sq.connector.read_listings(skus) == dict.fromkeys(skus, 3)
        assert sq.connector.limiter.waited > 0  # the bucket, not luck, kept us under
        assert sq.sim.stats["rate_limited"] == 0


async def test_a_server_error_or_a_store_that_is_down_is_a_partner_error() -> None:
    async with square() as sq:
        sq.sim.faults.error_rate = 1.0
        with pytest.raises(PartnerError, match="500"):
            await sq.connector.push([Listing("SHEET-0", 1)])
        sq.sim.faults.error_rate, sq.sim.faults.down = 0.0, True
        with pytest.raises(PartnerError):
            await sq.connector.read_listings(["SHEET-0"])


async def test_the_webhook_for_another_store_of_the_merchant_is_ignored() -> None:
    async with square() as sq:
        body = json.dumps({"type": "order.updated", "event_id": "e", "data": {"id": "O", "object": {
            "order_updated": {"order_id": "O", "state": "COMPLETED", "location_id": "ELSEWHERE"}}}}).encode()
        before = sq.sim.stats["requests"]
        assert await sq.connector.parse_webhook({}, body) == []
        assert sq.sim.stats["requests"] == before
