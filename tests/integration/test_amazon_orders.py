"""Amazon orders reaching the connector: ORDER_CHANGE notifications that the simulator sends into
the seller's SQS queue (moto's server) once the connector has set up the Notifications API
destination and subscription, read back with the real SQS API; and polling Orders API
v2026-01-01's searchOrders as the backstop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import pytest_asyncio

from connectors import amazon_format as fmt
from connectors.base import OrderEventKind, OrderLine, PartnerError
from simulators.amazon import AmazonSimulator
from simulators.amazon_sqs_server import MotoSqs
from tests.integration.amazon_seller import (
    SKUS,
    SellerQueue,
    connect,
    delivered,
    fetch_all,
    new_queue,
    running,
)


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoSqs]:
    sqs = MotoSqs()
    sqs.start()
    yield sqs
    sqs.stop()


@pytest.fixture
def queue(moto: MotoSqs) -> SellerQueue:
    return new_queue(moto)


@pytest_asyncio.fixture
async def sim(moto: MotoSqs) -> AsyncIterator[AmazonSimulator]:
    async with running(moto) as started:
        yield started


# --- the Notifications API ----------------------------------------------------------------------------

async def test_start_creates_the_destination_and_subscription_once_and_a_restart_reuses_them(
        session: aiohttp.ClientSession, moto: MotoSqs, queue: SellerQueue) -> None:
    async with running(moto, skus=SKUS[:5]) as sim:
        first = connect(sim, session, queue=queue)
        await first.start()
        again = connect(sim, session, queue=queue)   # an actor Ray restarted

        await again.start()

    notes = sim.notifications_api
    [destination] = notes.destinations.values()
    assert destination["resource"]["sqs"]["arn"].endswith(":" + queue.url.rsplit("/", 1)[1])
    assert notes.subscriptions["ORDER_CHANGE"]["destinationId"] == destination["destinationId"]
    assert (sim.stats["calls:createDestination"], sim.stats["calls:createSubscription"]) == (1, 1)
    assert sim.stats["calls:getDestinations"] == 2


async def test_destinations_take_only_the_apps_grantless_token_not_the_sellers(
        sim: AmazonSimulator, session: aiohttp.ClientSession, queue: SellerQueue) -> None:
    connector = connect(sim, session, queue=queue)
    await connector.start()
    headers = {"x-amz-access-token": connector.spec.credentials["access_token"]}

    async with session.get(f"{sim.base_url}/notifications/v1/destinations", headers=headers) as answer:
        body = await answer.json()

    assert answer.status == 403 and body["errors"][0]["code"] == "Unauthorized"


async def test_a_destination_for_a_queue_amazon_cannot_reach_is_refused(
        sim: AmazonSimulator, session: aiohttp.ClientSession, queue: SellerQueue) -> None:
    missing = SellerQueue(queue.endpoint_url, queue.url + "-gone")
    connector = connect(sim, session, queue=missing)

    with pytest.raises(PartnerError):
        await connector.start()   # GetQueueAttributes on a queue that does not exist

    assert sim.notifications_api.destinations == {}


# --- orders over SQS ------------------------------------------------------------------------------------

async def test_an_order_arrives_over_sqs_once_even_when_delivered_twice_and_goes_only_after_commit(
        session: aiohttp.ClientSession, moto: MotoSqs, queue: SellerQueue) -> None:
    async with running(moto, duplicate_rate=1.0, initial_quantity=5) as sim:
        connector = connect(sim, session, queue=queue, visibility_timeout=1)
        await connector.start()
        order = await sim.record_order("SHEET-005", 2)
        await delivered(sim, 2)
        [body] = set(queue.peek())   # the two copies are one notification

        page = await connector.fetch_orders(None, 10)
        in_flight = queue.counts()
        await asyncio.sleep(1.2)   # past the visibility timeout, uncommitted: SQS shows it again
        shown_again = await connector.fetch_orders(page.cursor, 10)
        await connector.confirm(shown_again.events)   # what the actor does after the commit
        after_commit = queue.counts()
        queue.send(body)   # SQS delivers it once more, after the commit
        connector.limiter.honour("searchOrders", 60)   # the queue alone
        late = await connector.fetch_orders(shown_again.cursor, 10)

    created = [(e.event_id, e.order_id, e.lines) for e in page.events]
    assert created == [(f"{order.order_id}:Unshipped", order.order_id, (OrderLine("SHEET-005", 2),))]
    assert len(page.events[0].raw["receipt_handles"]) == 2   # both copies, one event
    assert in_flight == (0, 2)   # received, not deleted: nothing committed yet
    assert [e.event_id for e in shown_again.events] == [f"{order.order_id}:Unshipped"]
    assert after_commit == (0, 0)
    assert late.events == [] and queue.counts() == (0, 0)   # known NotificationId: deleted, no event


async def test_orders_page_through_the_queue_and_the_poll_without_losing_one(
        sim: AmazonSimulator, session: aiohttp.ClientSession, queue: SellerQueue) -> None:
    sim.listings.update(dict.fromkeys(SKUS, 5))
    connector = connect(sim, session, queue=queue)
    await connector.start()
    orders = [await sim.record_order(SKUS[n], 1) for n in range(25)]
    await delivered(sim, 25)

    pages = await fetch_all(connector, 10)

    # The queue and the poll meet the same facts in different pages; the event ids dedupe them.
    assert len(pages) == 3
    assert all(len({e.event_id for e in page}) == len(page) for page in pages)
    assert {e.event_id for page in pages for e in page} == {f"{o.order_id}:Unshipped" for o in orders}
    assert sim.stats["calls:searchOrders"] == 3
    assert sim.stats["calls:getOrder"] == 0   # searchOrders carries the items
    assert queue.counts() == (0, 0)


async def test_without_a_queue_polling_alone_finds_every_order_and_its_lines(
        session: aiohttp.ClientSession) -> None:
    async with running(options={"notifications": False}, initial_quantity=5) as sim:
        orders = [await sim.record_order(SKUS[n], 2) for n in range(12)]
        connector = connect(sim, session)

        pages = await fetch_all(connector, 5)

    events = [e for page in pages for e in page]
    assert len(pages) == 3
    assert {e.event_id for e in events} == {f"{o.order_id}:Unshipped" for o in orders}
    assert {e.order_id: e.lines for e in events} == {o.order_id: (OrderLine(o.sku, 2),) for o in orders}
    assert sim.stats["calls:searchOrders"] == 3 and sim.stats["calls:getOrder"] == 0


async def test_a_failing_queue_read_never_stops_the_order_poll(
        sim: AmazonSimulator, session: aiohttp.ClientSession, queue: SellerQueue) -> None:
    sim.listings["SHEET-008"] = 3
    order = await sim.record_order("SHEET-008", 1)
    gone = SellerQueue(queue.endpoint_url, queue.url + "-deleted")
    connector = connect(sim, session, queue=gone)

    page = await connector.fetch_orders(None, 10)

    assert [e.event_id for e in page.events] == [f"{order.order_id}:Unshipped"]
    assert sim.stats["calls:searchOrders"] == 1


async def test_a_failing_queue_read_is_raised_when_the_poll_cannot_run_either(
        sim: AmazonSimulator, session: aiohttp.ClientSession, queue: SellerQueue) -> None:
    connector = connect(sim, session, queue=SellerQueue(queue.endpoint_url, queue.url + "-deleted"))
    connector.limiter.honour("searchOrders", 60)

    with pytest.raises(PartnerError, match="ReceiveMessage"):
        await connector.fetch_orders(None, 10)


async def test_get_orders_is_skipped_rather_than_waited_for_when_its_bucket_is_empty(
        sim: AmazonSimulator, session: aiohttp.ClientSession, queue: SellerQueue) -> None:
    connector = connect(sim, session, queue=queue)
    await connector.start()
    sim.listings["SHEET-006"] = 3
    order = await sim.record_order("SHEET-006", 1)
    await delivered(sim, 1)
    connector.limiter.honour("searchOrders", 60)

    started = time.monotonic()
    page = await connector.fetch_orders(None, 10)

    assert time.monotonic() - started < 1
    assert [e.event_id for e in page.events] == [f"{order.order_id}:Unshipped"]
    assert sim.stats["calls:searchOrders"] == 0


async def test_a_shipped_order_and_duplicate_notifications_give_each_fact_once(
        session: aiohttp.ClientSession, moto: MotoSqs, queue: SellerQueue) -> None:
    async with running(moto, duplicate_rate=1.0, initial_quantity=4) as sim:
        connector = connect(sim, session, queue=queue)
        await connector.start()
        order = await sim.record_order("SHEET-007", 1)
        await sim.change_order(order, "shipped")
        await delivered(sim, 4)
        ids = [fmt.notification_fact(body)[0] for body in queue.peek()]

        page = await connector.fetch_orders(None, 10)
        await connector.confirm(page.events)

        assert queue.counts() == (0, 0)
    assert len(ids) == 4 and len(set(ids)) == 2   # a duplicate repeats its NotificationId
    assert [(e.event_id, e.kind) for e in page.events] == [
        (f"{order.order_id}:Unshipped", OrderEventKind.CREATED),
        (f"{order.order_id}:Shipped", OrderEventKind.SHIPPED)]
    assert len(page.events[0].raw["receipt_handles"]) == 4   # both notifications imply the creation
    assert len(page.events[1].raw["receipt_handles"]) == 2


async def test_search_orders_follows_the_published_model_and_shipping_and_cancelling_reach_the_poll(
        session: aiohttp.ClientSession) -> None:
    async with running(options={"notifications": False}, initial_quantity=5) as sim:
        shipped, cancelled = await sim.record_order("SHEET-010", 1), await sim.record_order("SHEET-011", 2)
        await sim.change_order(shipped, "shipped")
        await sim.change_order(cancelled, "cancelled")
        connector = connect(sim, session)

        [events] = await fetch_all(connector, 10)

    assert {(e.order_id, e.kind) for e in events} == {
        (shipped.order_id, OrderEventKind.CREATED), (shipped.order_id, OrderEventKind.SHIPPED),
        (cancelled.order_id, OrderEventKind.CREATED), (cancelled.order_id, OrderEventKind.CANCELLED)}


@pytest.mark.parametrize("query", [
    {"marketplaceIds": "ATVPDKIKX0DER"},                                                  # no date
    {"marketplaceIds": "ATVPDKIKX0DER", "createdAfter": "2026-01-01T00:00:00Z",
     "lastUpdatedAfter": "2026-01-01T00:00:00Z"},                                         # both dates
    {"marketplaceIds": "ATVPDKIKX0DER", "LastUpdatedAfter": "2026-01-01T00:00:00Z"},     # v0's spelling
    {"marketplaceIds": "ATVPDKIKX0DER", "lastUpdatedAfter": "2026-01-01T00:00:00Z", "includedData": "ITEMS"},
    {"marketplaceIds": "ATVPDKIKX0DER", "lastUpdatedAfter": "2026-01-01T00:00:00Z", "maxResultsPerPage": "101"},
])
async def test_search_orders_refuses_what_amazon_refuses(
        sim: AmazonSimulator, session: aiohttp.ClientSession, query: dict[str, str]) -> None:
    connector = connect(sim, session)
    headers = {"x-amz-access-token": await connector.api.access_token()}

    async with session.get(f"{sim.base_url}/orders/2026-01-01/orders", params=query, headers=headers) as answer:
        body = await answer.json()

    assert answer.status == 400 and body["errors"][0]["code"] == "InvalidInput"


async def test_a_page_token_is_refused_with_other_filters_than_its_first_page(
        sim: AmazonSimulator, session: aiohttp.ClientSession) -> None:
    sim.listings["SHEET-012"] = 5
    for _ in range(3):
        await sim.record_order("SHEET-012", 1)
    connector = connect(sim, session)
    headers = {"x-amz-access-token": await connector.api.access_token()}
    url, first = f"{sim.base_url}/orders/2026-01-01/orders", {
        "marketplaceIds": "ATVPDKIKX0DER", "lastUpdatedAfter": "2026-01-01T00:00:00Z", "maxResultsPerPage": "2"}
    async with session.get(url, params=first, headers=headers) as answer:
        token = (await answer.json())["pagination"]["nextToken"]

    async with session.get(url, params={**first, "paginationToken": token}, headers=headers) as same:
        page_two = await same.json()
    moved = {**first, "lastUpdatedAfter": "2026-01-02T00:00:00Z", "paginationToken": token}
    async with session.get(url, params=moved, headers=headers) as other:
        refused = other.status

    assert len(page_two["orders"]) == 1 and "pagination" not in page_two
    assert refused == 400
