"""The wholesale connector against the distributor simulator, over real SFTP on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from connectors import x12
from connectors.base import AuthExpired, Listing, OrderEventKind, PartnerError, PartnerSpec
from connectors.wholesale import WholesaleConnector
from simulators.base import SimConfig
from simulators.wholesale import WholesaleSimulator
from sync.limits import RateLimiter

SKUS = ["SHEET-Q-WHT", "SHEET-K-GRY", "PILLOW-STD"]
INTERVAL = 0.5   # the distributor's 846 pace, shortened for the tests


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the simulator did not get there in time"
        await asyncio.sleep(0.05)


def options(**more: Any) -> dict[str, Any]:
    return {"min_846_interval_s": INTERVAL, **more}


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[WholesaleSimulator]:
    simulator = WholesaleSimulator(SimConfig("acme", WholesaleSimulator.demo_credentials("acme"), SKUS,
                                             initial_quantity=5, options=options()))
    await simulator.start(port=0)
    yield simulator
    await simulator.stop()


def connector_for(sim: WholesaleSimulator, limiter: RateLimiter | None = None, **credentials: str) -> WholesaleConnector:
    """A connector that knows the simulator's host key unless the test says otherwise."""
    spec = PartnerSpec("acme", "wholesale", sim.sftp_url,
                       {**sim.config.credentials, "host_key_fingerprint": sim.host_key_fingerprint, **credentials},
                       dict(sim.config.options))
    return WholesaleConnector(spec, None, limiter or RateLimiter.under(WholesaleConnector.rates(spec)))


@pytest_asyncio.fixture
async def connector(sim: WholesaleSimulator) -> AsyncIterator[WholesaleConnector]:
    found = connector_for(sim)
    await found.start()
    yield found
    await found.close()


async def test_the_connector_logs_in_with_its_password_and_finds_the_folders(
        sim: WholesaleSimulator, connector: WholesaleConnector) -> None:
    assert sim.stats["logins"] == 1
    assert (sim.root / "inbound/850/archive").is_dir()


async def test_a_wrong_password_is_refused_as_credentials_to_replace(sim: WholesaleSimulator) -> None:
    """SFTP has no token to refresh: a refused password raises AuthExpired, which tells the actor
    our credentials need replacing."""
    wrong = connector_for(sim, password="not-it")
    with pytest.raises(AuthExpired):
        await wrong.start()
    assert sim.stats["logins_refused"] >= 1




async def test_a_push_sends_one_846_and_the_distributor_shows_the_quantities(
        sim: WholesaleSimulator, connector: WholesaleConnector) -> None:
    results = await connector.push([Listing("SHEET-Q-WHT", 40), Listing("PILLOW-STD", 0)])
    assert all(result.ok for result in results)
    await eventually(lambda: sim.listings["SHEET-Q-WHT"] == 40)
    assert sim.listings == {"SHEET-Q-WHT": 40, "SHEET-K-GRY": 5, "PILLOW-STD": 0}
    assert sim.stats["files_received"] == 1 and sim.stats["edi_errors"] == 0
    await eventually(lambda: "SHEET-Q-WHT,40" in (sim.root / "reports/inventory.csv").read_text())
    assert await connector.read_listings([*SKUS, "UNKNOWN"]) == sim.listings


async def test_a_large_batch_travels_in_a_single_846(sim: WholesaleSimulator, connector: WholesaleConnector) -> None:
    batch = [Listing(f"SKU-{i:04d}", i) for i in range(2000)]
    assert all(result.ok for result in await connector.push(batch))
    await eventually(lambda: sim.listings.get("SKU-1999") == 1999)
    assert sim.stats["files_received"] == 1


async def test_a_sku_that_cannot_travel_in_edi_fails_alone(sim: WholesaleSimulator, connector: WholesaleConnector) -> None:
    results = await connector.push([Listing("BAD*SKU", 1), Listing("SHEET-K-GRY", 9)])
    assert [(r.sku, r.ok) for r in results] == [("BAD*SKU", False), ("SHEET-K-GRY", True)]
    assert "cannot be sent" in results[0].error
    await eventually(lambda: sim.listings["SHEET-K-GRY"] == 9)


async def test_pushing_several_times_through_the_limiter_keeps_to_the_distributors_pace(
        sim: WholesaleSimulator, connector: WholesaleConnector) -> None:
    for quantity in range(4):
        await connector.push([Listing("SHEET-Q-WHT", quantity)])
    await eventually(lambda: sim.stats["files_received"] == 4)
    assert sim.stats["rate_limited"] == 0
    assert connector.limiter.waited >= 2 * INTERVAL
    assert sim.listings["SHEET-Q-WHT"] == 3


async def test_the_distributor_counts_846_files_that_come_too_fast(sim: WholesaleSimulator) -> None:
    """The counterpart of the test above: without the limiter the simulator notices."""
    unpaced = connector_for(sim, limiter=RateLimiter({}))
    await unpaced.push([Listing("SHEET-Q-WHT", 1)])
    await unpaced.push([Listing("SHEET-Q-WHT", 2)])
    await eventually(lambda: sim.stats["files_received"] == 2)
    assert sim.stats["rate_limited"] == 1
    await unpaced.close()


async def test_a_broken_846_is_counted_and_moved_aside(sim: WholesaleSimulator) -> None:
    advice = x12.inventory_advice("INV-1", date.today(), [("SHEET-Q-WHT", 1)])
    text = x12.write_interchange(x12.Envelope(sim.buyer, sim.distributor, 5, datetime.now()), "IB", [("846", advice)])
    (sim.folder("outbound_846") / "846_bad.edi").write_text(text.replace("SE*6*0001", "SE*7*0001"))
    await eventually(lambda: sim.stats["edi_errors"] == 1)
    assert (sim.folder("outbound_846") / "rejected" / "846_bad.edi").exists()
    assert sim.listings["SHEET-Q-WHT"] == 5


async def test_orders_are_fetched_a_page_at_a_time_and_a_page_read_twice_is_the_same(
        sim: WholesaleSimulator, connector: WholesaleConnector) -> None:
    placed = [(await sim.record_order("SHEET-Q-WHT", 1)).order_id for _ in range(5)]
    seen: list[str] = []
    pages = 0
    while True:
        page = await connector.fetch_orders(None, 2)
        again = await connector.fetch_orders(page.cursor, 2)
        assert [e.event_id for e in again.events] == [e.event_id for e in page.events]
        seen += [event.order_id for event in page.events]
        await connector.confirm(page.events)
        pages += 1
        if not page.more:
            break
    assert pages == 3 and seen == placed
    assert all(event.kind == OrderEventKind.CREATED for event in page.events)
    assert page.events[0].lines[0].sku == "SHEET-Q-WHT"


async def test_confirm_answers_each_file_with_a_997_and_archives_it(
        sim: WholesaleSimulator, connector: WholesaleConnector) -> None:
    orders = [await sim.record_order(sku, 2) for sku in SKUS]
    page = await connector.fetch_orders(None, 10)
    await connector.confirm(page.events)
    await connector.confirm(page.events)   # again, as after a restart: harmless
    await eventually(lambda: sim.acknowledged == {order.order_id for order in orders})
    assert sim.stats["acks_received"] == 3 and sim.stats["edi_errors"] == 0
    assert not any(sim.folder("inbound_850").glob("*.edi"))
    assert len(list(sim.folder("archive").glob("*.edi"))) == 3
    assert (await connector.fetch_orders(None, 10)).events == []


async def test_a_malformed_850_is_moved_to_error_and_answered_with_ak5_r(
        sim: WholesaleSimulator, connector: WholesaleConnector) -> None:
    order = x12.PurchaseOrder("PO-9", "20260427", (x12.PoLine("SHEET-Q-WHT", 1),))
    text = x12.write_interchange(x12.Envelope(sim.distributor, sim.buyer, 99, datetime.now()),
                                 "PO", [("850", x12.purchase_order(order))])
    assert "SE*5*0001" in text
    (sim.folder("inbound_850") / "850_broken.edi").write_text(text.replace("SE*5*0001", "SE*9*0001"))
    good = await sim.record_order("PILLOW-STD", 1)
    page = await connector.fetch_orders(None, 10)
    assert [event.order_id for event in page.events] == [good.order_id]
    assert (sim.folder("error") / "850_broken.edi").exists()
    await eventually(lambda: sim.stats["acks_rejected"] == 1)


async def test_a_cancelled_po_arrives_as_a_cancellation(sim: WholesaleSimulator, connector: WholesaleConnector) -> None:
    order = await sim.record_order("SHEET-K-GRY", 2)
    await sim.change_order(order, "cancelled")
    page = await connector.fetch_orders(None, 10)
    assert [(e.kind, e.order_id) for e in page.events] == [
        (OrderEventKind.CREATED, order.order_id), (OrderEventKind.CANCELLED, order.order_id)]
    assert sim.listings["SHEET-K-GRY"] == 5


async def test_a_down_distributor_raises_partner_error_and_the_connector_reconnects_after(
        sim: WholesaleSimulator, connector: WholesaleConnector) -> None:
    sim.faults.down = True
    with pytest.raises(PartnerError):
        await connector.fetch_orders(None, 10)   # the open connection is dropped
    with pytest.raises(PartnerError):
        await connector.push([Listing("SHEET-Q-WHT", 1)])   # and a new one is refused
    sim.faults.down = False
    assert await connector.read_listings(["SHEET-Q-WHT"]) == {"SHEET-Q-WHT": 5}
    assert sim.stats["logins"] == 2


async def test_failing_sftp_requests_raise_partner_error(sim: WholesaleSimulator, connector: WholesaleConnector) -> None:
    sim.faults.error_rate = 1.0
    with pytest.raises(PartnerError):
        await connector.fetch_orders(None, 10)
    sim.faults.error_rate = 0.0
    assert (await connector.fetch_orders(None, 10)).events == []
    assert sim.stats["errors_injected"] >= 1 and sim.stats["logins"] == 1


async def test_the_csv_variant_pushes_sku_quantity_and_takes_po_files(tmp_path: Path) -> None:
    config = SimConfig("csvco", WholesaleSimulator.demo_credentials("csvco"), SKUS, initial_quantity=5,
                       options=options(format="csv", root=str(tmp_path)))
    sim = WholesaleSimulator(config)
    await sim.start(port=0)
    connector = connector_for(sim)
    try:
        await connector.start()
        await connector.push([Listing("SHEET-Q-WHT", 12), Listing("PILLOW-STD", 3)])
        await eventually(lambda: sim.listings["SHEET-Q-WHT"] == 12)
        assert sim.listings["PILLOW-STD"] == 3 and sim.stats["edi_errors"] == 0
        order = await sim.record_order("PILLOW-STD", 2)
        page = await connector.fetch_orders(None, 10)
        assert [(e.event_id, e.lines[0].quantity) for e in page.events] == [(f"DISTRIBUTOR:{order.order_id}:created", 2)]
        await connector.confirm(page.events)
        await eventually(lambda: order.order_id in sim.acknowledged)
        assert not any(sim.folder("outbound_997").iterdir())
    finally:
        await connector.close()
        await sim.stop()
    assert tmp_path.exists()   # a root given in the options belongs to the caller


async def test_token_refresh_and_webhooks_do_not_apply(sim: WholesaleSimulator) -> None:
    """A distributor trading files over SFTP has no access token to refresh (the password is the
    credential; see the wrong-password test) and sends no webhooks: POs wait in inbound/850 to be
    polled, so there is also no 429 to honour: its only limit, one 846 every N seconds, is kept
    by our limiter (see the pacing tests)."""
    connector = connector_for(sim)
    assert connector.capabilities == ("push", "poll")
    assert connector.verify_webhook({}, b"{}", "https://example.test/hook") is False
    assert connector.webhook_event_id({}, b"{}") is None
