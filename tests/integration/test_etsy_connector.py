"""The Etsy connector against the Etsy simulator over loopback HTTP: auth with rotating refresh
tokens, whole-inventory pushes, paged receipts, signed webhooks and both rate limits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.base import AuthExpired, Listing, OrderEventKind, PartnerError, PartnerSpec, RateLimited
from connectors.etsy import EtsyConnector
from connectors.etsy_format import sign_webhook
from simulators.base import SimConfig
from simulators.etsy import EtsySimulator
from sync.limits import RateLimiter
from tests.integration.webhook_server import serving

SKUS = [f"SHEET-{size}-{color}" for size in ("T", "F", "Q", "K") for color in ("WHT", "GRY", "SAG", "NVY", "IVR")]


@dataclass
class Etsy:
    sim: EtsySimulator
    connector: EtsyConnector
    session: aiohttp.ClientSession
    creds: dict[str, str]

    async def sim_call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session.request(method, self.sim.base_url + path, **kwargs) as answer:
            return answer.status, await answer.json()

    async def api_call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
        """A call made by hand, the way Etsy's docs show it."""
        token = await self.connector._token()
        headers = {"x-api-key": f"{self.creds['keystring']}:{self.creds['shared_secret']}",
                   "Authorization": f"Bearer {token}"}
        async with self.session.request(method, self.sim.base_url + path, headers=headers, **kwargs) as answer:
            return answer.status, await answer.json(), dict(answer.headers)


@contextlib.asynccontextmanager
async def etsy(skus: list[str] = SKUS, start: bool = True, options: dict[str, Any] | None = None,
               **config: Any) -> AsyncIterator[Etsy]:
    creds = EtsySimulator.demo_credentials("etsy")
    sim = EtsySimulator(SimConfig(partner_id="etsy", credentials=dict(creds), skus=list(skus), initial_quantity=5,
                                  options={"variants_per_listing": 8, **(options or {})}, **config))
    await sim.start(port=0)
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
    spec = PartnerSpec("etsy", "etsy", sim.base_url, dict(creds))
    connector = EtsyConnector(spec, session, RateLimiter.under(EtsyConnector.rates(spec)))
    try:
        if start:
            await connector.start()
        yield Etsy(sim, connector, session, creds)
    finally:
        await session.close()
        await sim.stop()


@dataclass
class Receiver:
    """Threadcount's webhook ingress, reduced to a list; refuses the first `refuse` deliveries."""

    refuse: int = 0
    got: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.got.append((dict(request.headers), await request.read()))
        self.arrived.set()
        if len(self.got) <= self.refuse:
            return web.Response(status=500)
        return web.Response(status=200)

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(5):
            while len(self.got) < count:
                self.arrived.clear()
                await self.arrived.wait()


@contextlib.asynccontextmanager
async def receiver(refuse: int = 0) -> AsyncIterator[tuple[Receiver, str]]:
    inbox = Receiver(refuse)
    async with serving("/webhooks/etsy", inbox.handle) as url:
        yield inbox, url


# --- auth -------------------------------------------------------------------------------------

async def test_start_rotates_the_refresh_token_and_learns_which_listing_carries_each_sku() -> None:
    async with etsy() as shop:
        creds = shop.connector.spec.credentials
        assert creds["refresh_token"] != shop.creds["refresh_token"]
        assert creds["access_token"].startswith(shop.creds["user_id"] + ".")
        assert shop.connector._listing_of == shop.sim.listing_of
        assert len(set(shop.connector._listing_of.values())) == 3
        status, body = await shop.sim_call("POST", "/v3/public/oauth/token", data={
            "grant_type": "refresh_token", "client_id": shop.creds["keystring"],
            "refresh_token": shop.creds["refresh_token"]})
        assert (status, body) == (400, {"error": "invalid_grant", "error_description": "refresh_token is revoked"})


async def test_a_token_about_to_expire_is_refreshed_before_use_and_calls_keep_working() -> None:
    async with etsy(token_ttl=1.0) as shop:
        await asyncio.sleep(1.0)
        assert await shop.connector.read_listings(["SHEET-Q-WHT"]) == {"SHEET-Q-WHT": 5}
        assert shop.sim.stats["token_refreshes"] == 2
        assert shop.sim.stats["expired_token_refused"] == 0


async def test_a_token_etsy_calls_expired_is_refreshed_once_and_the_call_retried() -> None:
    async with etsy(token_ttl=0.5) as shop:
        shop.connector.spec.credentials["access_token_expires_at"] = str(time.time() + 3600)
        await asyncio.sleep(0.6)
        rotated = shop.connector.spec.credentials["refresh_token"]
        results = await asyncio.gather(*(shop.connector.read_listings([sku]) for sku in SKUS[:5]))
        assert results == [{sku: 5} for sku in SKUS[:5]]
        assert shop.sim.stats["expired_token_refused"] == 5
        assert shop.sim.stats["token_refreshes"] == 2   # one refresh for five callers: the token rotates
        assert shop.connector.spec.credentials["refresh_token"] not in (rotated, shop.creds["refresh_token"])


async def test_a_revoked_refresh_token_raises_auth_expired() -> None:
    async with etsy(start=False) as shop:
        shop.connector.spec.credentials["refresh_token"] = shop.creds["user_id"] + ".revoked"
        with pytest.raises(AuthExpired, match="refresh_token is revoked"):
            await shop.connector.start()


# --- listings ---------------------------------------------------------------------------------

async def test_a_push_sets_one_sku_and_sends_the_rest_of_its_listing_back_unchanged() -> None:
    async with etsy() as shop:
        before = dict(shop.sim.listings)
        [result] = await shop.connector.push([Listing("SHEET-F-SAG", 12)])
        assert result.ok
        assert shop.sim.listings == {**before, "SHEET-F-SAG": 12}
        assert shop.sim.stats["inventory_puts"] == 1
        assert shop.sim.stats["products_deleted"] == 0


async def test_a_batch_takes_one_get_and_one_put_per_listing() -> None:
    async with etsy() as shop:
        wanted = {sku: n for n, sku in enumerate(SKUS)}
        results = await shop.connector.push([Listing(sku, n) for sku, n in wanted.items()])
        assert all(r.ok for r in results) and [r.sku for r in results] == SKUS
        assert shop.sim.listings == wanted
        assert shop.sim.stats["inventory_puts"] == 3
        assert await shop.connector.read_listings(SKUS) == wanted


async def test_quantities_beyond_what_etsy_shows_are_clamped() -> None:
    async with etsy() as shop:
        await shop.connector.push([Listing("SHEET-T-WHT", 1500), Listing("SHEET-T-GRY", -2)])
        assert (shop.sim.listings["SHEET-T-WHT"], shop.sim.listings["SHEET-T-GRY"]) == (999, 0)


async def test_a_sku_no_listing_carries_fails_alone() -> None:
    async with etsy() as shop:
        results = await shop.connector.push([Listing("SHEET-K-NVY", 3), Listing("DUVET-Q-WHT", 3)])
        assert [(r.sku, r.ok) for r in results] == [("SHEET-K-NVY", True), ("DUVET-Q-WHT", False)]
        assert "no Etsy listing" in results[1].error
        assert shop.sim.listings["SHEET-K-NVY"] == 3


async def test_a_hand_edit_at_etsy_shows_in_read_listings() -> None:
    async with etsy() as shop:
        await shop.sim_call("PUT", "/_sim/listings", json={"SHEET-Q-IVR": 41})
        assert await shop.connector.read_listings(["SHEET-Q-IVR", "SHEET-Q-SAG"]) == {"SHEET-Q-IVR": 41, "SHEET-Q-SAG": 5}


async def test_etsy_refuses_a_get_answer_put_back_and_deletes_products_left_out() -> None:
    async with etsy() as shop:
        listing_id = shop.sim.listing_of["SHEET-T-WHT"]
        path = f"/v3/application/listings/{listing_id}/inventory"
        _, inventory, _ = await shop.api_call("GET", path)
        status, body, _ = await shop.api_call("PUT", path, json=inventory)
        assert (status, body) == (400, {"error": "products[0].is_deleted: unexpected property"})
        kept = [{"sku": p["sku"], "property_values": p["property_values"],
                 "offerings": [{"price": 45.0, "quantity": 2, "is_enabled": True,
                                "readiness_state_id": p["offerings"][0]["readiness_state_id"]}]}
                for p in inventory["products"][:2]]
        status, body, _ = await shop.api_call("PUT", path, json={"products": kept, "readiness_state_on_property": []})
        assert status == 200 and [p["sku"] for p in body["products"]] == ["SHEET-T-WHT", "SHEET-T-GRY"]
        assert "SHEET-T-SAG" not in shop.sim.listings
        assert shop.sim.stats["products_deleted"] == 6


# --- orders -----------------------------------------------------------------------------------

async def test_orders_are_fetched_page_by_page_and_a_page_fetched_twice_is_harmless() -> None:
    async with etsy() as shop:
        orders = [await shop.sim.record_order(SKUS[n % len(SKUS)], 1) for n in range(23)]
        pages, cursor, more = [], None, True
        while more:
            page = await shop.connector.fetch_orders(cursor, 10)
            again = await shop.connector.fetch_orders(cursor, 10)
            assert again.events == page.events and again.cursor == page.cursor
            pages.append(page.events)
            cursor, more = page.cursor, page.more
        assert [len(events) for events in pages] == [10, 10, 3]
        assert [e.event_id for events in pages for e in events] == [f"{o.order_id}:created" for o in orders]
        assert (await shop.connector.fetch_orders(cursor, 10)).events == []


async def test_a_receipt_updated_while_paging_is_not_lost() -> None:
    async with etsy() as shop:
        orders = [await shop.sim.record_order(SKUS[n], 1) for n in range(12)]
        for age, order in enumerate(reversed(orders), start=1):
            order.created_at = order.updated_at = float(int(time.time()) - 100 - age)
        first = await shop.connector.fetch_orders(None, 4)
        await shop.sim.change_order(orders[1], "shipped")     # already read: moves to the end
        await shop.sim.change_order(orders[7], "cancelled")   # not read yet: moves to the end
        events, cursor, more = list(first.events), first.cursor, first.more
        while more:
            page = await shop.connector.fetch_orders(cursor, 4)
            events += page.events
            cursor, more = page.cursor, page.more
        kinds = {(e.order_id, e.kind) for e in events}
        assert {order_id for order_id, kind in kinds if kind is OrderEventKind.CREATED} == {o.order_id for o in orders}
        assert (orders[1].order_id, OrderEventKind.SHIPPED) in kinds
        assert (orders[7].order_id, OrderEventKind.CANCELLED) in kinds


# --- webhooks ---------------------------------------------------------------------------------

async def test_a_signed_webhook_is_accepted_and_gives_the_events_polling_gives() -> None:
    async with receiver() as (inbox, url), etsy(webhook_url=url) as shop:
        order = await shop.sim.record_order("SHEET-Q-WHT", 2)
        await inbox.wait_for(1)
        headers, body = inbox.got[0]
        assert shop.connector.verify_webhook(headers, body, url)
        assert shop.connector.webhook_event_id(headers, body) == headers["webhook-id"]
        [event] = await shop.connector.parse_webhook(headers, body)
        assert (event.event_id, event.kind, event.lines[0].quantity) == (f"{order.order_id}:created", "created", 2)
        polled = await shop.connector.fetch_orders(None, 10)
        assert [e.event_id for e in polled.events] == [event.event_id]


async def test_a_tampered_body_or_signature_is_refused() -> None:
    async with receiver() as (inbox, url), etsy(webhook_url=url) as shop:
        await shop.sim.record_order("SHEET-Q-WHT", 1)
        await inbox.wait_for(1)
        headers, body = inbox.got[0]
        assert not shop.connector.verify_webhook(headers, body.replace(b"order.paid", b"order.paie"), url)
        signature = headers["webhook-signature"]
        forged = signature[:-3] + ("A" if signature[-3] != "A" else "B") + signature[-2:]
        assert not shop.connector.verify_webhook({**headers, "webhook-signature": forged}, body, url)
        assert not shop.connector.verify_webhook({**headers, "webhook-id": "msg_other"}, body, url)


async def test_a_stale_timestamp_is_refused_even_when_correctly_signed() -> None:
    async with receiver() as (inbox, url), etsy(webhook_url=url) as shop:
        await shop.sim.record_order("SHEET-Q-WHT", 1)
        await inbox.wait_for(1)
        headers, body = inbox.got[0]
        old = str(int(time.time()) - 400)
        replayed = {**headers, "webhook-timestamp": old,
                    "webhook-signature": sign_webhook(shop.creds["webhook_secret"], headers["webhook-id"], old, body)}
        assert not shop.connector.verify_webhook(replayed, body, url)
        shop.connector.spec.options["webhook_tolerance"] = 600
        assert shop.connector.verify_webhook(replayed, body, url)


async def test_a_redelivered_or_duplicated_webhook_carries_the_same_event_id() -> None:
    async with receiver(refuse=1) as (inbox, url), etsy(webhook_url=url, retry_delays=(0.05,),
                                                        duplicate_rate=1.0) as shop:
        await shop.sim.record_order("SHEET-Q-WHT", 1)
        await inbox.wait_for(3)   # the duplicate, the refused first attempt and its retry
        ids = {shop.connector.webhook_event_id(h, b) for h, b in inbox.got}
        assert len(ids) == 1 and all(shop.connector.verify_webhook(h, b, url) for h, b in inbox.got)
        async with asyncio.timeout(2):
            while shop.sim.stats["webhooks_acknowledged"] < 2:   # counted once our answer reaches Etsy
                await asyncio.sleep(0.01)


async def test_order_paid_is_the_only_webhook_and_shipping_and_cancelling_are_learned_by_polling() -> None:
    async with receiver() as (inbox, url), etsy(webhook_url=url) as shop:
        shipped = await shop.sim.record_order("SHEET-Q-WHT", 1)
        cancelled = await shop.sim.record_order("SHEET-Q-GRY", 1)
        await inbox.wait_for(2)
        await shop.sim.change_order(shipped, "shipped")
        await shop.sim.change_order(cancelled, "cancelled")
        await asyncio.sleep(0.2)
        assert len(inbox.got) == 2   # Etsy has no shipped or cancelled event
        bodies = [json.loads(body) for _, body in inbox.got]
        assert all(sorted(b) == ["event_type", "resource_url", "shop_id"] for b in bodies)
        assert {b["event_type"] for b in bodies} == {"order.paid"}
        polled = await shop.connector.fetch_orders(None, 10)
        ids = {e.event_id for e in polled.events}
        assert {f"{shipped.order_id}:shipped", f"{cancelled.order_id}:cancelled"} <= ids


# --- errors and rate limits -------------------------------------------------------------------

async def test_etsys_429_says_nothing_and_a_busy_second_is_waited_out_for_a_second() -> None:
    async with etsy() as shop:
        await shop.sim_call("POST", "/_sim/throttle", json={"count": 1})
        with pytest.raises(RateLimited) as raised:
            await shop.connector.read_listings(["SHEET-Q-WHT"])
        assert raised.value.retry_after == 1.0
        assert shop.connector.limiter.would_wait("request")
        assert not shop.connector.limiter.would_wait("daily")
        began = time.monotonic()
        assert await shop.connector.read_listings(["SHEET-Q-WHT"]) == {"SHEET-Q-WHT": 5}
        assert time.monotonic() - began >= 0.9


async def test_every_answer_carries_both_limits() -> None:
    async with etsy() as shop:
        _, _, headers = await shop.api_call("GET", f"/v3/application/shops/{shop.creds['shop_id']}/receipts")
        assert headers["x-limit-per-second"] == "10" and headers["x-limit-per-day"] == "10000"
        assert 0 <= int(headers["x-remaining-this-second"]) < 10
        assert 9_900 < int(headers["x-remaining-today"]) < 10_000


async def test_server_errors_and_a_partner_that_is_down_are_partner_errors() -> None:
    async with etsy() as shop:
        await shop.sim_call("POST", "/_sim/faults", json={"error_rate": 1.0})
        with pytest.raises(PartnerError, match="500"):
            await shop.connector.read_listings(["SHEET-Q-WHT"])
        await shop.sim_call("POST", "/_sim/faults", json={"down": True})
        with pytest.raises(PartnerError):
            await shop.connector.push([Listing("SHEET-Q-WHT", 1)])


async def test_pushing_many_skus_stays_inside_etsys_limits() -> None:
    many = [f"SHEET-{n:03d}-WHT" for n in range(120)]
    async with etsy(skus=many) as shop:
        for start in range(0, len(many), EtsyConnector.max_push_batch):
            batch = many[start:start + EtsyConnector.max_push_batch]
            assert all(r.ok for r in await shop.connector.push([Listing(sku, 7) for sku in batch]))
        assert set(shop.sim.listings.values()) == {7}
        assert shop.sim.stats["calls:second"] > 40
        assert shop.sim.stats["rate_limited"] == 0
        assert shop.connector.limiter.waited > 0



async def test_the_last_call_of_etsys_day_stops_the_connector_before_a_429() -> None:
    async with etsy(options={"limit_per_day": 8}) as shop:   # start takes 5: two listing pages, three inventories
        for _ in range(3):
            await shop.connector.read_listings(["SHEET-Q-WHT"])
        assert shop.connector.limiter.would_wait("daily")
        assert shop.sim.stats["rate_limited"] == 0


async def test_a_day_used_up_by_another_tool_on_the_same_key_blocks_the_daily_bucket() -> None:
    async with etsy(options={"limit_per_day": 8}) as shop:
        for _ in range(3):
            await shop.api_call("GET", f"/v3/application/shops/{shop.creds['shop_id']}/receipts")
        with pytest.raises(RateLimited) as raised:
            await shop.connector.read_listings(["SHEET-Q-WHT"])
        assert raised.value.retry_after > 1_000
        assert shop.connector.limiter.would_wait("daily")


async def test_a_listing_deleted_at_etsy_fails_its_skus_and_is_forgotten() -> None:
    async with etsy() as shop:
        del shop.sim.inventories[shop.sim.listing_of["SHEET-T-WHT"]]
        results = await shop.connector.push([Listing("SHEET-T-WHT", 2), Listing("SHEET-K-IVR", 2)])
        assert [(r.ok, "404" in r.error) for r in results] == [(False, True), (True, False)]
        assert "SHEET-T-WHT" not in shop.connector._listing_of
