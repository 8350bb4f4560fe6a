"""The Shopify connector against the Shopify simulator, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from connectors.base import (
    AuthExpired,
    Listing,
    OrderEventKind,
    PartnerError,
    PartnerSpec,
    RateLimited,
)
from connectors.limits import RateSpec
from connectors.shopify import ShopifyConnector
from connectors.shopify_cursor import OrdersCursor
from connectors.shopify_format import SET_QUANTITIES, gid, sign
from simulators.base import SimConfig
from simulators.clock import JumpingClock
from simulators.shopify import GRAPHQL_LIMIT, INVALID_TOKEN, REST_LIMIT, ShopifySimulator
from sync.limits import RateLimiter
from tests.integration.webhook_server import serving

SKUS = [f"SHEET-{i:03d}" for i in range(12)]


class Inbox:
    """Threadcount's webhook ingress, reduced to what the tests look at: every delivery, and the
    status to answer (the first `refuse` deliveries get a 500, so Shopify retries)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.refuse = 0
        self.url = ""

    async def receive(self, request: web.Request) -> web.Response:
        self.deliveries.append((dict(request.headers), await request.read()))
        if self.refuse > 0:
            self.refuse -= 1
            return web.Response(status=500)
        return web.Response(text="ok")

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert len(self.deliveries) >= count, f"only {len(self.deliveries)} of {count} deliveries arrived"
        return self.deliveries


@pytest_asyncio.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox()
    async with serving("/webhooks/shopify", box.receive) as box.url:
        yield box


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:
        yield client


@pytest_asyncio.fixture
async def shop(inbox: Inbox) -> AsyncIterator[ShopifySimulator]:
    async with running(SKUS, webhook_url=inbox.url, options={"retry_after": 0.3}) as sim:
        yield sim


class running:
    """A started simulator, stopped on the way out."""

    def __init__(self, skus: list[str], **config: Any) -> None:
        self.sim = ShopifySimulator(SimConfig(partner_id="shopify-test",
                                              credentials=ShopifySimulator.demo_credentials("shopify-test"),
                                              skus=skus, retry_delays=(0.05, 0.05), **config))

    async def __aenter__(self) -> ShopifySimulator:
        await self.sim.start(port=0)
        return self.sim

    async def __aexit__(self, *_exc: object) -> None:
        await self.sim.stop()


async def connected(sim: ShopifySimulator, session: aiohttp.ClientSession, limiter: RateLimiter | None = None,
                    credentials: dict[str, str] | None = None) -> ShopifyConnector:
    spec = PartnerSpec(id="shopify-test", kind="shopify", base_url=sim.base_url,
                       credentials=dict(credentials or sim.config.credentials))
    connector = ShopifyConnector(spec, session, limiter or RateLimiter.under(ShopifyConnector.rates(spec)))
    await connector.start()
    return connector


async def graphql(sim: ShopifySimulator, session: aiohttp.ClientSession, quantities: list[dict[str, Any]],
                  key: str) -> dict[str, Any]:
    body = {"query": SET_QUANTITIES, "variables": {"input": {"name": "available", "reason": "correction",
                                                             "quantities": quantities}, "key": key}}
    headers = {"X-Shopify-Access-Token": sim.config.credentials["access_token"]}
    async with session.post(f"{sim.base_url}/admin/api/2025-10/graphql.json", json=body, headers=headers) as answer:
        result: dict[str, Any] = await answer.json()
        return result


def quantity(sim: ShopifySimulator, sku: str, value: int, change_from: int | None = None) -> dict[str, Any]:
    return {"inventoryItemId": gid("InventoryItem", sim.variants[sku]["inventory_item_id"]),
            "locationId": gid("Location", sim.location_id), "quantity": value, "changeFromQuantity": change_from}


# --- auth ----------------------------------------------------------------------------------------


async def test_start_finds_the_first_location_and_the_inventory_item_of_every_sku(shop, session):
    connector = await connected(shop, session)
    assert connector.location_id == shop.location_id
    assert connector.items == {sku: shop.variants[sku]["inventory_item_id"] for sku in SKUS}


async def test_an_offline_token_keeps_working_long_past_the_simulators_token_ttl(session):
    clock = JumpingClock()
    async with running(SKUS, token_ttl=0.05, clock=clock) as sim:
        connector = await connected(sim, session)
        clock.jump(3600)   # far past the TTL, and past any token lifetime an online token has
        assert [r.ok for r in await connector.push([Listing("SHEET-001", 4)])] == [True]
        assert sim.listings["SHEET-001"] == 4
        assert connector.spec.credentials == sim.config.credentials  # nothing to refresh, nothing rewritten


async def test_a_revoked_token_is_refused_with_shopifys_answer_as_expired_auth(shop, session):
    with pytest.raises(AuthExpired, match=r"Invalid API key or access token"):
        await connected(shop, session, credentials={**shop.config.credentials, "access_token": "shpat_revoked"})
    assert shop.stats["unauthorized"] == 1
    headers = {"X-Shopify-Access-Token": "shpat_revoked"}
    async with session.get(f"{shop.base_url}/admin/api/2025-10/locations.json", headers=headers) as answer:
        assert answer.status == 401
        assert await answer.json() == {"errors": INVALID_TOKEN}


# --- push ----------------------------------------------------------------------------------------


async def test_a_push_sets_the_shown_quantity_at_the_shop(shop, session):
    connector = await connected(shop, session)
    results = await connector.push([Listing("SHEET-000", 7)])
    assert [(r.sku, r.ok) for r in results] == [("SHEET-000", True)]
    assert shop.listings["SHEET-000"] == 7
    assert shop.stats["calls:graphql"] == 1


async def test_a_large_push_goes_in_calls_of_at_most_250_quantities(session):
    skus = [f"PILLOW-{i:03d}" for i in range(300)]
    async with running(skus) as sim:
        connector = await connected(sim, session)
        results = await connector.push([Listing(sku, i % 9) for i, sku in enumerate(skus)])
        assert all(r.ok for r in results)
        assert sim.stats["calls:graphql"] == 2
        assert sim.listings == {sku: i % 9 for i, sku in enumerate(skus)}


async def test_a_refused_quantity_fails_alone_and_the_rest_of_its_call_is_applied(shop, session):
    connector = await connected(shop, session)
    results = await connector.push([Listing("SHEET-001", 3), Listing("SHEET-002", 2_000_000_000),
                                    Listing("SHEET-003", 5)])
    assert [r.ok for r in results] == [True, False, True]
    assert "INVALID_QUANTITY_TOO_HIGH" in results[1].error
    assert (shop.listings["SHEET-001"], shop.listings["SHEET-002"], shop.listings["SHEET-003"]) == (3, 0, 5)


async def test_an_sku_shopify_does_not_list_is_reported_and_not_sent(shop, session):
    connector = await connected(shop, session)
    results = await connector.push([Listing("NOT-LISTED", 3), Listing("SHEET-004", 1)])
    assert [(r.sku, r.ok) for r in results] == [("NOT-LISTED", False), ("SHEET-004", True)]
    assert "no Shopify variant" in results[0].error


async def test_a_replayed_idempotency_key_gets_the_first_answer_and_is_applied_once(shop, session):
    key = str(uuid.uuid4())
    first = await graphql(shop, session, [quantity(shop, "SHEET-005", 9)], key)
    shop.listings["SHEET-005"] = 1   # a hand edit in between: a replay must not undo it
    again = await graphql(shop, session, [quantity(shop, "SHEET-005", 9)], key)
    assert again["data"] == first["data"]
    assert first["data"]["inventorySetQuantities"]["userErrors"] == []
    assert shop.listings["SHEET-005"] == 1
    assert shop.stats["idempotent_replays"] == 1
    other = await graphql(shop, session, [quantity(shop, "SHEET-005", 4)], key)
    codes = [e["code"] for e in other["data"]["inventorySetQuantities"]["userErrors"]]
    assert codes == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]


async def test_a_stale_change_from_quantity_is_refused_and_nothing_is_set(shop, session):
    shop.listings.update({"SHEET-006": 5, "SHEET-007": 5})
    answer = await graphql(shop, session, [quantity(shop, "SHEET-006", 8, change_from=5),
                                           quantity(shop, "SHEET-007", 8, change_from=4)], str(uuid.uuid4()))
    result = answer["data"]["inventorySetQuantities"]
    assert result["inventoryAdjustmentGroup"] is None
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("CHANGE_FROM_QUANTITY_STALE", ["input", "quantities", "1", "changeFromQuantity"])]
    assert (shop.listings["SHEET-006"], shop.listings["SHEET-007"]) == (5, 5)
    assert answer["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000


async def test_read_listings_shows_what_the_shop_shows_hand_edits_included(shop, session):
    connector = await connected(shop, session)
    await connector.push([Listing(sku, 10) for sku in SKUS])
    shop.listings["SHEET-008"] = 2   # someone edited it in the Shopify admin
    shown = await connector.read_listings([*SKUS, "NOT-LISTED"])
    assert shown == {**{sku: 10 for sku in SKUS}, "SHEET-008": 2}


# --- orders --------------------------------------------------------------------------------------


async def test_orders_come_a_page_at_a_time_and_later_changes_follow(shop, session):
    connector = await connected(shop, session)
    orders = [await shop.record_order(SKUS[i], 1 + i % 2) for i in range(7)]
    pages, cursor, more = [], None, True
    while more:
        page = await connector.fetch_orders(cursor, page_size=3)
        pages.append(page.events)
        cursor, more = page.cursor, page.more
    assert [len(events) for events in pages] == [3, 3, 1]
    created = [event for events in pages for event in events]
    assert {e.order_id for e in created} == {o.order_id for o in orders}
    assert all(e.kind is OrderEventKind.CREATED and e.event_id == f"{e.order_id}:created" for e in created)
    assert created[1].lines[0].sku == SKUS[1] and created[1].lines[0].quantity == 2

    await shop.change_order(orders[0], "shipped")
    await shop.change_order(orders[1], "cancelled")
    later = await connector.fetch_orders(cursor, page_size=50)
    facts = {e.event_id for e in later.events}
    assert {f"{orders[0].order_id}:shipped", f"{orders[1].order_id}:cancelled"} <= facts
    # Seen again at the inclusive updated_at_min boundary: the same ids, so they dedupe.
    assert facts - {e.event_id for e in created} == {f"{orders[0].order_id}:shipped",
                                                     f"{orders[1].order_id}:cancelled"}


async def test_a_cursor_whose_page_info_shopify_refuses_pages_again_from_its_since(shop, session):
    connector = await connected(shop, session)
    order = await shop.record_order("SHEET-002", 1)
    first = await connector.fetch_orders(None, page_size=50)
    polled = OrdersCursor.decode(first.cursor)
    assert polled is not None
    stale = OrdersCursor(polled.since, page_info="bm90LWEtcGFnZQ").encode()
    again = await connector.fetch_orders(stale, page_size=50)
    assert [e.event_id for e in again.events] == [f"{order.order_id}:created"]
    assert not again.more


async def test_page_info_with_other_filters_is_refused_as_shopify_does(shop, session):
    for sku in SKUS[:3]:
        await shop.record_order(sku, 1)
    headers = {"X-Shopify-Access-Token": shop.config.credentials["access_token"]}
    url = f"{shop.base_url}/admin/api/2025-10/orders.json"
    async with session.get(url, params={"status": "any", "limit": "2"}, headers=headers) as answer:
        link = answer.headers["Link"]
    page_info = link.split("page_info=")[1].split("&")[0].split(">")[0]
    async with session.get(url, params={"page_info": page_info, "status": "any"}, headers=headers) as answer:
        assert answer.status == 400
        assert "page_info" in (await answer.json())["errors"]
    async with session.get(url, params={"page_info": page_info, "limit": "2"}, headers=headers) as answer:
        assert answer.status == 200
        assert len((await answer.json())["orders"]) == 1


# --- webhooks ------------------------------------------------------------------------------------


async def test_a_signed_webhook_is_accepted_and_reads_as_the_polled_order_does(shop, session, inbox):
    connector = await connected(shop, session)
    order = await shop.record_order("SHEET-009", 2)
    [(headers, body)] = await inbox.wait_for(1)
    assert headers["X-Shopify-Topic"] == "orders/create"
    assert connector.verify_webhook(headers, body, inbox.url)
    events = await connector.parse_webhook(headers, body)
    polled = await connector.fetch_orders(None, page_size=50)
    assert events == polled.events
    assert events[0].event_id == f"{order.order_id}:created"
    assert events[0].lines[0].sku == "SHEET-009" and events[0].lines[0].quantity == 2
    assert shop.listings["SHEET-009"] == 0   # the sale lowered the shown quantity (it started at 0)


async def test_a_tampered_body_a_wrong_signature_or_another_shop_is_refused(shop, session, inbox):
    connector = await connected(shop, session)
    await shop.record_order("SHEET-010", 1)
    [(headers, body)] = await inbox.wait_for(1)
    assert connector.verify_webhook(headers, body, inbox.url)
    assert not connector.verify_webhook(headers, body.replace(b'"quantity": 1', b'"quantity": 9'), inbox.url)
    assert not connector.verify_webhook({**headers, "X-Shopify-Hmac-Sha256": sign("guess", body)}, body, inbox.url)
    assert not connector.verify_webhook({**headers, "X-Shopify-Shop-Domain": "other.myshopify.com"}, body,
                                        inbox.url)
    unsigned = {k: v for k, v in headers.items() if k != "X-Shopify-Hmac-Sha256"}
    assert not connector.verify_webhook(unsigned, body, inbox.url)


async def test_a_retried_and_a_duplicated_delivery_carry_the_same_webhook_id(session, inbox):
    inbox.refuse = 1
    async with running(SKUS, webhook_url=inbox.url, duplicate_rate=1.0) as sim:
        connector = await connected(sim, session)
        await sim.record_order("SHEET-011", 1)
        deliveries = await inbox.wait_for(3)   # two sends, one of them refused once and retried
        await asyncio.sleep(0.1)
        assert len(inbox.deliveries) == 3
        ids = {connector.webhook_event_id(headers, body) for headers, body in deliveries}
        assert len(ids) == 1 and None not in ids
        assert all(connector.verify_webhook(headers, body, inbox.url) for headers, body in deliveries)
        assert sim.stats["webhooks_duplicated"] == 1


async def test_a_shipped_order_fires_orders_fulfilled_with_the_polled_event_id(shop, session, inbox):
    connector = await connected(shop, session)
    order = await shop.record_order("SHEET-000", 1)
    await shop.change_order(order, "shipped")
    deliveries = await inbox.wait_for(2)
    headers, body = next(d for d in deliveries if d[0]["X-Shopify-Topic"] == "orders/fulfilled")
    [event] = await connector.parse_webhook(headers, body)
    assert (event.kind, event.event_id) == (OrderEventKind.SHIPPED, f"{order.order_id}:shipped")
    polled = await connector.fetch_orders(None, page_size=50)
    assert [e.event_id for e in polled.events] == [f"{order.order_id}:created", f"{order.order_id}:shipped"]


async def test_cancel_at_partner_cancels_the_order_once_and_shopify_tells_us_by_webhook(shop, session, inbox):
    connector = await connected(shop, session)
    order = await shop.record_order("SHEET-001", 1)
    assert await connector.cancel_at_partner(order.order_id, "out of stock")
    assert shop.orders[order.order_id].status == "cancelled"
    assert shop.rest_orders[int(order.order_id)]["cancel_reason"] == "inventory"
    deliveries = await inbox.wait_for(2)
    headers, body = next(d for d in deliveries if d[0]["X-Shopify-Topic"] == "orders/cancelled")
    [event] = await connector.parse_webhook(headers, body)
    assert (event.kind, event.event_id) == (OrderEventKind.CANCELLED, f"{order.order_id}:cancelled")
    # A retried cancel (its first answer lost) is refused by Shopify, but the order is cancelled.
    assert await connector.cancel_at_partner(order.order_id, "inventory")
    await asyncio.sleep(0.05)
    assert shop.stats["webhooks:orders/cancelled"] == 1


# --- limits and failures -------------------------------------------------------------------------


async def test_shopifys_429_is_raised_with_its_retry_after_and_the_limiter_then_waits(shop, session):
    connector = await connected(shop, session)
    shop.throttle(rest=1)
    with pytest.raises(RateLimited) as raised:
        await connector.read_listings(SKUS)
    assert raised.value.retry_after == pytest.approx(0.3)
    assert connector.limiter.would_wait("rest")
    started = time.monotonic()
    assert await connector.read_listings(SKUS[:1]) == {SKUS[0]: 0}
    assert time.monotonic() - started >= 0.25
    assert shop.stats["rate_limited"] == 0


async def test_a_throttled_graphql_call_is_rate_limited_until_the_cost_is_restored(shop, session):
    connector = await connected(shop, session)
    shop.throttle(graphql=1)
    with pytest.raises(RateLimited) as raised:
        await connector.push([Listing("SHEET-002", 6)])
    assert raised.value.retry_after == pytest.approx(11 / 100)   # cost 11 at 100 points a second
    assert connector.limiter.would_wait("graphql", 11)
    started = time.monotonic()
    assert (await connector.push([Listing("SHEET-002", 6)]))[0].ok
    assert time.monotonic() - started >= 0.09
    assert shop.listings["SHEET-002"] == 6


async def test_every_rest_answer_carries_the_call_limit_header(shop, session):
    headers = {"X-Shopify-Access-Token": shop.config.credentials["access_token"]}
    url = f"{shop.base_url}/admin/api/2025-10/locations.json"
    async with session.get(url, headers=headers) as answer:
        assert answer.headers["X-Shopify-Shop-Api-Call-Limit"] == "1/40"
    async with session.get(url, headers=headers) as answer:   # the bucket leaks 2 a second meanwhile
        assert answer.headers["X-Shopify-Shop-Api-Call-Limit"] in ("1/40", "2/40")
    shop.throttle(rest=1)
    async with session.get(url, headers=headers) as answer:
        assert answer.status == 429
        assert answer.headers["Retry-After"] == "0.3"
        assert "X-Shopify-Shop-Api-Call-Limit" in answer.headers
        assert (await answer.json())["errors"].startswith("Exceeded 2 calls per second")


async def test_a_shop_that_fails_is_a_partner_error_worth_retrying(shop, session):
    connector = await connected(shop, session)
    shop.faults.error_rate = 1.0
    with pytest.raises(PartnerError):
        await connector.push([Listing("SHEET-003", 1)])
    await shop.stop()
    with pytest.raises(PartnerError):
        await connector.read_listings(SKUS)


def test_the_connector_declares_the_limits_the_shop_enforces():
    declared = {name: (spec.rate, spec.burst) for name, spec in ShopifyConnector.limits.items()}
    assert declared == {"rest": (REST_LIMIT.per_second, REST_LIMIT.burst),
                        "graphql": (GRAPHQL_LIMIT.per_second, GRAPHQL_LIMIT.burst)}
    assert ShopifyConnector.max_push_batch == 250


SMALL = {"rest_bucket": 4, "rest_leak": 20.0, "graphql_bucket": 300, "graphql_restore": 2000.0}


def small_limiter() -> RateLimiter:
    """The connector's own limiter, built as the config builds it from lowered published limits."""
    return RateLimiter({"rest": RateSpec(20.0, 4).scaled(0.9), "graphql": RateSpec(2000.0, 300).scaled(0.9)})


async def test_many_skus_through_the_connectors_own_limiter_never_overrun_the_shop(session):
    skus = [f"DUVET-{i:04d}" for i in range(1000)]
    async with running(skus, options=SMALL) as sim:
        connector = await connected(sim, session, small_limiter())
        assert len(connector.items) == 1000   # two pages of products
        results = await connector.push([Listing(sku, 3) for sku in skus])
        assert all(r.ok for r in results)
        assert await connector.read_listings(skus) == {sku: 3 for sku in skus}
        assert sim.stats["calls:graphql"] == 4 and sim.stats["calls:rest"] == 23
        assert sim.stats["rate_limited"] == 0


async def test_without_a_limiter_the_same_load_overruns_the_shop(session):
    skus = [f"DUVET-{i:04d}" for i in range(1000)]
    async with running(skus, options=SMALL) as sim:
        connector = await connected(sim, session, small_limiter())
        connector.limiter = RateLimiter({})
        with pytest.raises(RateLimited):
            await connector.push([Listing(sku, 3) for sku in skus])
        assert sim.stats["rate_limited"] >= 1
