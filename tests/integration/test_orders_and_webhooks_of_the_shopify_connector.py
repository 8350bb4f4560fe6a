"""The Shopify connector against the Shopify simulator, over real HTTP on loopback: orders polled
page by page, webhooks signed, retried and duplicated, and cancelling at the shop (pushes and limits
are in test_pushes_and_limits_of_the_shopify_connector)."""

from __future__ import annotations

import asyncio

from connectors.base import OrderEventKind
from connectors.shopify_cursor import OrdersCursor
from connectors.shopify_format import sign
from tests.integration.shopify_shop import SKUS, connected, running

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
