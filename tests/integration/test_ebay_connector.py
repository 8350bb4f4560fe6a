"""EbayConnector against EbaySimulator over loopback HTTP: the WSDL, pushes four a call, per-item
failures, orders page by page, Platform Notifications (good, tampered, stale), the short-duration
limit, auth and faults."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
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
from connectors.ebay import EbayConnector
from simulators.base import SimConfig
from simulators.clock import SystemClock
from simulators.ebay import EbaySimulator
from sync.limits import RateLimiter
from tests.integration.webhook_server import serving

SKUS = [f"SHEET-{i:02d}" for i in range(12)]


@dataclasses.dataclass
class Ebay:
    sim: EbaySimulator
    connector: EbayConnector
    session: aiohttp.ClientSession
    notes: list[tuple[dict[str, str], bytes]]


class LateClock(SystemClock):
    """A partner clock eleven minutes behind: what it signs is stale on arrival."""

    def time(self) -> float:
        return super().time() - 660


@contextlib.asynccontextmanager
async def ebay(options: dict[str, Any] | None = None, connector_options: dict[str, Any] | None = None,
               credentials: dict[str, str] | None = None, **config: Any) -> AsyncIterator[Ebay]:
    notes: list[tuple[dict[str, str], bytes]] = []

    async def receive(request: web.Request) -> web.Response:
        notes.append((dict(request.headers), await request.read()))
        return web.Response(text="ok")

    given = EbaySimulator.demo_credentials("ebay-test")
    async with serving("/webhooks/ebay", receive) as url:
        sim = EbaySimulator(SimConfig(partner_id="ebay-test", credentials=dict(given), skus=SKUS,
                                      webhook_url=url, options=dict(options or {}), **config))
        await sim.start(port=0)
        session = aiohttp.ClientSession()
        spec = PartnerSpec("ebay-test", "ebay", sim.base_url, dict(credentials or given),
                           dict(connector_options or {}))
        connector = EbayConnector(spec, session, RateLimiter.under(EbayConnector.rates(spec)))
        try:
            yield Ebay(sim, connector, session, notes)
        finally:
            await connector.close()
            await session.close()
            await sim.stop()


async def arrived(notes: list[Any], count: int = 1) -> None:
    for _ in range(200):
        if len(notes) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} notification(s) did not arrive")


async def test_the_connector_reads_the_wsdl_the_simulator_serves() -> None:
    async with ebay() as e:
        await e.connector.start()
        async with e.session.get(e.sim.base_url + "/wsapi?wsdl") as answer:
            assert answer.status == 200 and b"eBayAPISoapBinding" in await answer.read()


async def test_a_push_of_ten_goes_out_as_three_calls_of_at_most_four() -> None:
    async with ebay() as e:
        listings = [Listing(sku, n + 1) for n, sku in enumerate(SKUS[:10])]
        results = await e.connector.push(listings)
        assert all(r.ok for r in results) and [r.sku for r in results] == SKUS[:10]
        assert e.sim.stats["calls:ReviseInventoryStatus"] == 3
        assert {sku: e.sim.listings[sku] for sku in SKUS[:10]} == {lst.sku: lst.quantity for lst in listings}


async def test_a_failed_item_stays_pending_while_the_others_in_its_call_are_applied() -> None:
    async with ebay() as e:
        results = await e.connector.push([Listing(SKUS[0], 5), Listing("NOT-LISTED", 2), Listing(SKUS[1], 6)])
        assert [(r.sku, r.ok) for r in results] == [(SKUS[0], True), ("NOT-LISTED", False), (SKUS[1], True)]
        assert "21916585" in results[1].error
        assert (e.sim.listings[SKUS[0]], e.sim.listings[SKUS[1]]) == (5, 6)


async def test_a_warning_counts_as_pushed() -> None:
    async with ebay() as e:
        await e.connector.push([Listing(SKUS[0], 4)])
        [result] = await e.connector.push([Listing(SKUS[0], 0)])
        assert result.ok and e.sim.listings[SKUS[0]] == 0
        assert e.sim.stats["quantities_revised"] == 2


async def test_orders_come_page_by_page_until_has_more_orders_is_false() -> None:
    async with ebay() as e:
        placed = [await e.sim.record_order(SKUS[i % 3], 1 + i % 2) for i in range(7)]
        cursor, pages, events = None, 0, []
        while True:
            page = await e.connector.fetch_orders(cursor, page_size=3)
            pages, cursor = pages + 1, page.cursor
            events += page.events
            if not page.more:
                break
        assert pages == 3 and e.sim.stats["calls:GetOrders"] == 3
        assert [ev.order_id for ev in events] == [o.order_id for o in placed]
        assert events[1].lines == (OrderLine(SKUS[1], 2),) and events[1].kind is OrderEventKind.CREATED
        again = await e.connector.fetch_orders(cursor, page_size=3)  # the overlap re-reads: ids dedupe
        assert {ev.event_id for ev in again.events} <= {ev.event_id for ev in events}


async def test_shipped_and_cancelled_orders_come_as_their_events() -> None:
    async with ebay() as e:
        shipped, cancelled = await e.sim.record_order(SKUS[0], 1), await e.sim.record_order(SKUS[1], 2)
        await e.sim.change_order(shipped, "shipped")
        await e.sim.change_order(cancelled, "cancelled")
        page = await e.connector.fetch_orders(None, page_size=100)
        kinds = {ev.order_id: ev.kind for ev in page.events}
        assert kinds == {shipped.order_id: OrderEventKind.SHIPPED, cancelled.order_id: OrderEventKind.CANCELLED}


async def test_a_variation_purchase_names_the_variations_sku() -> None:
    async with ebay(options={"variations": True}) as e:
        await e.sim.record_order(SKUS[4], 1)
        page = await e.connector.fetch_orders(None, page_size=10)
        assert page.events[0].lines == (OrderLine(SKUS[4], 1),)
        await arrived(e.notes)
        assert (await e.connector.parse_webhook(*e.notes[0]))[0].lines == (OrderLine(SKUS[4], 1),)


async def test_a_signed_notification_is_verified_and_carries_the_purchase() -> None:
    async with ebay(duplicate_rate=1.0) as e:
        order = await e.sim.record_order(SKUS[2], 2)
        await arrived(e.notes, 2)
        (headers, body), (_, twice) = e.notes[:2]
        assert "FixedPriceTransaction" in headers["SOAPAction"]
        assert e.connector.verify_webhook(headers, body, "")
        assert e.connector.webhook_event_id(headers, body) == e.connector.webhook_event_id(headers, twice)
        [event] = await e.connector.parse_webhook(headers, body)
        assert (event.order_id, event.kind, event.lines) == (order.order_id, OrderEventKind.CREATED,
                                                              (OrderLine(SKUS[2], 2),))
        polled = await e.connector.fetch_orders(None, 10)
        assert polled.events[0].event_id == event.event_id  # the webhook and the poll dedupe


async def test_a_notification_with_a_forged_body_applies_only_what_ebay_says_of_the_order() -> None:
    """eBay signs the Timestamp and the keys, not the body: the lines come from GetOrders."""
    async with ebay() as e:
        order = await e.sim.record_order(SKUS[2], 1)
        await arrived(e.notes)
        headers, body = e.notes[0]
        forged = body.replace(b"QuantityPurchased>1<", b"QuantityPurchased>9<", 1)
        assert forged != body and e.connector.verify_webhook(headers, forged, "")
        [event] = await e.connector.parse_webhook(headers, forged)
        assert (event.order_id, event.lines) == (order.order_id, (OrderLine(SKUS[2], 1),))


async def test_a_notification_signed_with_other_keys_or_a_changed_timestamp_is_refused() -> None:
    async with ebay() as e:
        await e.sim.record_order(SKUS[2], 1)
        await arrived(e.notes)
        headers, body = e.notes[0]
        stamp = body.split(b"Timestamp>")[1][:24]
        moved = stamp[:-2] + (b"1" if stamp[-2:-1] != b"1" else b"2") + stamp[-1:]  # a millisecond off
        assert not e.connector.verify_webhook(headers, body.replace(stamp, moved), "")
        other_keys = dataclasses.replace(e.connector.spec, credentials={**e.connector.spec.credentials,
                                                                        "cert_id": "PRD-someone-else"})
        assert not EbayConnector(other_keys).verify_webhook(headers, body, "")


async def test_a_notification_signed_eleven_minutes_ago_is_refused_as_stale() -> None:
    async with ebay(clock=LateClock()) as e:
        await e.sim.record_order(SKUS[2], 1)
        await arrived(e.notes)
        assert not e.connector.verify_webhook(*e.notes[0], "")


async def test_pushes_paced_to_the_limit_cause_no_violation() -> None:
    limit = {"calls": 8, "window_s": 1.0}
    async with ebay(options={"revise_limit": limit}, connector_options={"rate_limit": limit}) as e:
        started = time.monotonic()
        for round_no in range(6):
            listings = [Listing(sku, round_no + n) for n, sku in enumerate(SKUS)]
            assert all(r.ok for r in await e.connector.push(listings))
        assert e.sim.stats["calls:ReviseInventoryStatus"] == 18
        assert e.sim.stats["rate_limited"] == 0
        assert time.monotonic() - started >= 1.0  # 18 calls under 8 a second take over a second


async def test_going_over_the_limit_is_error_518_and_the_connector_stays_away() -> None:
    async with ebay(options={"revise_limit": {"calls": 2, "window_s": 60}},
                    connector_options={"rate_limit_wait_s": 7}) as e:
        await e.connector.push([Listing(SKUS[0], 1)])
        await e.connector.push([Listing(SKUS[0], 2)])
        with pytest.raises(RateLimited) as limited:
            await e.connector.push([Listing(SKUS[0], 3)])
        assert limited.value.retry_after == 7 and "518" in str(limited.value)
        assert e.connector.limiter.would_wait("revise")


async def test_a_wrong_token_is_auth_expired() -> None:
    async with ebay() as e:
        e.connector.spec.credentials["auth_token"] = "v^1.1#not-this-one"
        with pytest.raises(AuthExpired, match="931"):
            await e.connector.push([Listing(SKUS[0], 1)])


async def test_a_wrong_app_id_is_refused_by_a_soap_fault() -> None:
    async with ebay() as e:
        e.connector.spec.credentials["app_id"] = "Someone-else-PRD"
        with pytest.raises(Exception, match="appid"):
            await e.connector.push([Listing(SKUS[0], 1)])


async def test_a_failing_or_absent_partner_is_a_partner_error() -> None:
    async with ebay() as e:
        await e.connector.start()
        e.sim.faults.error_rate = 1.0
        with pytest.raises(PartnerError):
            await e.connector.push([Listing(SKUS[0], 1)])
        e.sim.faults.error_rate, e.sim.faults.down = 0.0, True
        with pytest.raises(PartnerError):
            await e.connector.fetch_orders(None, 10)


async def test_reading_listings_shows_what_is_left_after_sales() -> None:
    async with ebay() as e:
        await e.connector.push([Listing(SKUS[0], 9), Listing(SKUS[1], 4)])
        await e.sim.record_order(SKUS[0], 2)
        shown = await e.connector.read_listings([SKUS[0], SKUS[1], "NOT-LISTED"])
        assert shown == {SKUS[0]: 7, SKUS[1]: 4}


async def raw_call(e: Ebay, query: dict[str, str], statuses: int = 1, token: str | None = "own") -> tuple[int, str]:
    """A ReviseInventoryStatus as any SOAP client would post it, with this URL and header."""
    creds = e.sim.config.credentials
    header = ("" if token is None else '<soapenv:Header><RequesterCredentials xmlns="urn:ebay:apis:eBLBaseComponents">'
              f"<eBayAuthToken>{creds['auth_token'] if token == 'own' else token}</eBayAuthToken>"
              "</RequesterCredentials></soapenv:Header>")
    items = "".join(f"<InventoryStatus><SKU>{SKUS[i]}</SKU><Quantity>3</Quantity></InventoryStatus>"
                    for i in range(statuses))
    body = ('<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">' + header +
            '<soapenv:Body><ReviseInventoryStatusRequest xmlns="urn:ebay:apis:eBLBaseComponents">'
            f"{items}</ReviseInventoryStatusRequest></soapenv:Body></soapenv:Envelope>")
    url = {"callname": "ReviseInventoryStatus", "siteid": "0", "appid": creds["app_id"], "version": "1423", **query}
    async with e.session.post(e.sim.base_url + "/wsapi", params=url, data=body.encode(),
                              headers={"Content-Type": "text/xml"}) as answer:
        return answer.status, await answer.text()


async def test_the_simulator_refuses_calls_the_way_ebay_does_over_http() -> None:
    async with ebay() as e:
        assert (await raw_call(e, {}))[0] == 200 and e.sim.listings[SKUS[0]] == 3
        status, text = await raw_call(e, {}, statuses=5)
        assert status == 200 and "<ns1:Ack>Failure</ns1:Ack>" in text and "<ns1:ErrorCode>37<" in text
        status, text = await raw_call(e, {}, token=None)
        assert "<ns1:ErrorCode>931<" in text
        status, text = await raw_call(e, {"version": "967"})
        assert "<ns1:ErrorCode>37<" in text and "967" in text
        status, text = await raw_call(e, {"callname": "GetOrders"})
        assert status == 500 and "Fault" in text and "callname" in text
        assert e.sim.stats["quantities_revised"] == 1
