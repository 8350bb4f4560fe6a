"""`buffer: auto` in a partner's sync (no Ray, SQLite and PostgreSQL): the partner's own orders raise
the buffer of the listing they bought, the partner is shown the available stock less it at once, and
once the sales stop it decays and the partner is shown everything again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence

from connectors.base import Listing, OrderEvent, OrderEventKind, OrderLine, PushResult
from sync.buffers import AutoBuffer
from sync.intake import IntakeReport
from sync.rules import ShowRule
from tests.integration.test_partner_sync import MemoryPartner, RecordingIntake, running

PUSH_TAKES = 0.5   # seconds: the partner's sync lag the buffer is sized from


class SlowPartner(MemoryPartner):
    """Takes PUSH_TAKES to accept a push; a webhook body is {"id", "sku", "quantity"}."""

    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        await asyncio.sleep(PUSH_TAKES)
        return await super().push(listings)

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[OrderEvent]:
        order = json.loads(body)
        return [OrderEvent(order["id"], OrderEventKind.CREATED, order["id"],
                           (OrderLine(order["sku"], order["quantity"]),))]


class SellingIntake(RecordingIntake):
    """Reports every line as sold (the real intake does so for new orders; see test_intake)."""

    async def take(self, events: Sequence[OrderEvent]) -> IntakeReport:
        report = await super().take(events)
        report.sold = [(line.sku, line.quantity) for event in events for line in event.lines]
        return report


AUTO = ShowRule(auto=AutoBuffer(minimum=0, maximum=4, window_s=0.5, confidence=0.9))


async def test_a_burst_of_the_partners_orders_holds_units_back_then_the_buffer_decays(
        database_url: str) -> None:
    async with running(database_url, partner=SlowPartner(), show=AUTO, intake=SellingIntake()) as run:
        run.stock(10, 10, 10)
        await run.shows({"SHEET-0": 10, "SHEET-1": 10, "SHEET-2": 10})
        assert run.sync.status()["buffer"]["listings_above_floor"] == 0

        body = json.dumps({"id": "o1", "sku": "SHEET-0", "quantity": 6}).encode()
        assert (await run.sync.take_webhook({"X-Delivery": "d1"}, body))["taken"] == 1
        why = run.sync.status()["buffer"]
        assert why["mode"] == "auto" and why["lag_s"] >= PUSH_TAKES
        assert [(h["sku"], h["units"]) for h in why["hottest"]] == [("SHEET-0", 4)]
        async with asyncio.timeout(10):   # 12 units/s over a 0.5 s lag: the ceiling, 4, is kept back
            while Listing("SHEET-0", 6) not in [item for batch in run.partner.batches for item in batch]:
                await asyncio.sleep(0.02)
        assert run.partner.shown["SHEET-1"] == 10   # per listing: the others are untouched

        await run.shows({"SHEET-0": 10, "SHEET-1": 10, "SHEET-2": 10})   # decayed back to the floor
        assert run.sync.status()["buffer"]["listings_above_floor"] == 0


async def test_a_fixed_buffer_reports_itself_as_fixed(database_url: str) -> None:
    async with running(database_url, show=ShowRule(buffer=2)) as run:
        run.stock(10, 1, 0)
        await run.shows({"SHEET-0": 8, "SHEET-1": 0, "SHEET-2": 0})
        assert run.sync.status()["buffer"] == {"mode": "fixed", "units": 2}
