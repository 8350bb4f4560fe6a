"""Purchase orders as distributors really send them, over real SFTP against the distributor
simulator: our SKU under VP, theirs under BP, the GTIN under UP; an 855 for every new PO, line by
line, that the distributor reads strictly; BP matched through the configured or learned
cross-reference; the distributor's X12 profile (5010, required segments); GTINs on the 846."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

from connectors.base import LineAnswer, Listing, OrderAnswer, OrderEvent, OrderLine, PartnerSpec
from connectors.wholesale import WholesaleConnector
from simulators.base import SimConfig
from simulators.wholesale import WholesaleSimulator
from sync.limits import RateLimiter
from tests.integration.test_wholesale_connector import INTERVAL, eventually

SKUS = ["SHEET-Q-WHT", "SHEET-K-GRY", "PILLOW-STD"]
UPC = "012345678905"


@asynccontextmanager
async def trading(sim_options: dict[str, Any] | None = None, our_options: dict[str, Any] | None = None
                  ) -> AsyncIterator[tuple[WholesaleSimulator, WholesaleConnector]]:
    sim = WholesaleSimulator(SimConfig("acme", WholesaleSimulator.demo_credentials("acme"), SKUS, initial_quantity=5,
                                       options={"min_846_interval_s": INTERVAL, **(sim_options or {})}))
    await sim.start(port=0)
    spec = PartnerSpec("acme", "wholesale", sim.sftp_url,
                       {**sim.config.credentials, "host_key_fingerprint": sim.host_key_fingerprint},
                       {"min_846_interval_s": INTERVAL, **(our_options or {})})
    connector = WholesaleConnector(spec, None, RateLimiter.under(WholesaleConnector.rates(spec)))
    try:
        await connector.start()
        yield sim, connector
    finally:
        await connector.close()
        await sim.stop()


def po1_segments(sim: WholesaleSimulator) -> Iterator[str]:
    for path in sorted(sim.folder("inbound_850").glob("*.edi")):
        yield from (segment for segment in path.read_text().split("~") if segment.startswith("PO1"))


async def answer_all(connector: WholesaleConnector, events: list[OrderEvent],
                     lines: dict[str, tuple[LineAnswer, ...]]) -> None:
    await connector.answer([OrderAnswer(event.event_id, event.order_id, lines[event.order_id]) for event in events])
    await connector.confirm(events)


async def test_the_distributors_850_puts_our_sku_under_vp_its_own_under_bp_and_the_upc_under_up() -> None:
    async with trading({"gtins": {"SHEET-Q-WHT": UPC}, "part_numbers": {"SHEET-Q-WHT": "DIST-4471"}}) as (sim, connector):
        await sim.record_order("SHEET-Q-WHT", 10)
        assert list(po1_segments(sim)) == [f"PO1*1*10*EA*3.50**VP*SHEET-Q-WHT*BP*DIST-4471*UP*{UPC}"]
        (event,) = (await connector.fetch_orders(None, 10)).events
        assert event.lines == (OrderLine("SHEET-Q-WHT", 10, UPC, ""),)


async def test_each_new_po_gets_an_855_line_by_line_that_the_distributor_accepts() -> None:
    async with trading() as (sim, connector):
        order = await sim.record_purchase_order([("SHEET-Q-WHT", 3), ("NOT-OURS", 2), ("PILLOW-STD", 1)])
        events = (await connector.fetch_orders(None, 10)).events
        await answer_all(connector, events, {order.order_id: (
            LineAnswer("SHEET-Q-WHT", 2, 1), LineAnswer("", rejected=2), LineAnswer("PILLOW-STD", 1))})
        await eventually(lambda: order.order_id in sim.po_acks and order.order_id in sim.acknowledged)
        ack = sim.po_acks[order.order_id]
        assert ack.ack_type == "AC"
        assert [line.statuses for line in ack.lines] == [[("IA", 2), ("IB", 1)], [("IR", 2)], [("IA", 1)]]
        assert sim.stats["edi_errors"] == 0 and list(sim.folder("outbound_855").glob("*.edi")) == []


async def test_an_855_that_miscounts_a_line_is_refused_by_the_distributor() -> None:
    async with trading() as (sim, connector):
        order = await sim.record_order("SHEET-Q-WHT", 3)
        events = (await connector.fetch_orders(None, 10)).events
        await connector.answer([OrderAnswer(events[0].event_id, order.order_id, (LineAnswer("SHEET-Q-WHT", 2),))])
        sent = (await connector.fetch_orders(None, 10)).events
        po = dict(sent[0].raw["po"])
        po["lines"] = [[*po["lines"][0][:1], 4, *po["lines"][0][2:]]]   # echo 4 where the PO said 3
        await connector.confirm([OrderEvent(sent[0].event_id, sent[0].kind, sent[0].order_id, sent[0].lines,
                                            raw={**sent[0].raw, "po": po})])
        await eventually(lambda: sim.stats["edi_errors"] == 1)
        assert "echoes 4, we ordered 3" in sim.edi_errors[0] and order.order_id not in sim.po_acks


async def test_a_distributor_that_names_only_its_own_part_numbers_is_matched_by_the_configured_cross_reference(
        ) -> None:
    async with trading({"item_ids": ["BP"], "part_numbers": {"PILLOW-STD": "D-77"}},
                       {"part_numbers": {"D-77": "PILLOW-STD"}}) as (sim, connector):
        await sim.record_order("PILLOW-STD", 2)
        assert list(po1_segments(sim)) == ["PO1*1*2*EA*3.50**BP*D-77"]
        (event,) = (await connector.fetch_orders(None, 10)).events
        assert event.lines == (OrderLine("", 2, "", "PILLOW-STD"),)


async def test_a_part_number_answered_in_an_earlier_855_is_learned() -> None:
    async with trading({"part_numbers": {"SHEET-K-GRY": "D-5"}}) as (sim, connector):
        first = await sim.record_order("SHEET-K-GRY", 1)
        await answer_all(connector, (await connector.fetch_orders(None, 10)).events,
                         {first.order_id: (LineAnswer("SHEET-K-GRY", 1),)})
        await eventually(lambda: first.order_id in sim.po_acks)
        sim.items.item_ids = ("BP",)          # its next PO names the item by its own number only
        await sim.record_order("SHEET-K-GRY", 2)
        (event,) = (await connector.fetch_orders(None, 10)).events
        assert event.lines == (OrderLine("", 2, "", "SHEET-K-GRY"),)


async def test_a_5010_distributor_refuses_4010_files_and_takes_ours_once_the_profile_says_5010() -> None:
    guide = {"x12_version": "5010", "required_segments": {"846": ["REF"], "855": ["REF"]}}
    async with trading(guide) as (sim, plain):
        await plain.push([Listing("SHEET-Q-WHT", 7)])
        await eventually(lambda: sim.stats["edi_errors"] == 1)
        assert "5010" in sim.edi_errors[0]
    profile = {"x12_version": "5010", "segments": {"846": ["REF*IA*V-1234"], "855": ["REF*IA*V-1234"]},
               "file_names": {"846": "INV_{partner}_{control}.x12"}}
    async with trading(guide, profile) as (sim, connector):
        await connector.push([Listing("SHEET-Q-WHT", 7)])
        await eventually(lambda: sim.listings["SHEET-Q-WHT"] == 7)
        order = await sim.record_order("PILLOW-STD", 1)
        await answer_all(connector, (await connector.fetch_orders(None, 10)).events,
                         {order.order_id: (LineAnswer("PILLOW-STD", 1),)})
        await eventually(lambda: order.order_id in sim.po_acks and order.order_id in sim.acknowledged)
        assert sim.stats["edi_errors"] == 0


async def test_the_846_carries_each_variants_gtin_and_the_distributor_checks_it() -> None:
    async with trading() as (sim, connector):
        await connector.push([Listing("SHEET-Q-WHT", 9, UPC), Listing("PILLOW-STD", 4, "4006381333931"),
                              Listing("SHEET-K-GRY", 1)])
        await eventually(lambda: sim.listings["SHEET-Q-WHT"] == 9)
        assert sim.advised_gtins == {"SHEET-Q-WHT": UPC, "PILLOW-STD": "4006381333931"}
