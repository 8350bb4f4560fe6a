"""`buffer: auto` in a partner's sync (no Ray, SQLite and PostgreSQL): stock going fast raises the
buffer of that listing, which the partner is shown as 0 at once while what is left is within it, and
once the sales stop the buffer decays and the partner is shown what is left."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from connectors.base import Listing, PushResult
from sync.buffers import AutoBuffer
from sync.rules import ShowRule
from tests.integration.test_partner_sync import MemoryPartner, running

PUSH_TAKES = 0.5   # seconds: the partner's sync lag the buffer is sized from


class SlowPartner(MemoryPartner):
    """Takes PUSH_TAKES to accept a push."""

    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        await asyncio.sleep(PUSH_TAKES)
        return await super().push(listings)


AUTO = ShowRule(auto=AutoBuffer(minimum=0, maximum=4, window_s=0.5, confidence=0.9))


async def test_stock_going_fast_hides_its_last_units_from_the_partner_until_the_buffer_decays(
        database_url: str) -> None:
    async with running(database_url, partner=SlowPartner(), show=AUTO) as run:
        run.stock(10, 10, 10)
        await run.shows({"SHEET-0": 10, "SHEET-1": 10, "SHEET-2": 10})
        why = run.sync.status()["buffer"]
        assert why["listings_above_floor"] == 0
        assert not why["lag_measured"]   # the catch-up after the start does not count as lag

        run.stock(4, 10, 10)   # six gone at once: 12 units/s over a lag of at least 0.5 s
        why = run.sync.status()["buffer"]
        assert why["mode"] == "auto" and why["lag_s"] >= PUSH_TAKES   # assumed: 1 s
        assert [(h["sku"], h["units"]) for h in why["hottest"]] == [("SHEET-0", 4)]   # the ceiling
        async with asyncio.timeout(10):   # the four left are within the buffer: shown as none
            while Listing("SHEET-0", 0) not in [item for batch in run.partner.batches for item in batch]:
                await asyncio.sleep(0.02)
        assert run.partner.shown["SHEET-1"] == 10   # per listing: the others are untouched

        await run.shows({"SHEET-0": 4, "SHEET-1": 10, "SHEET-2": 10})   # decayed under what is left
        async with asyncio.timeout(10):   # and on, to the floor
            while run.sync.status()["buffer"]["listings_above_floor"]:
                await asyncio.sleep(0.05)
        why = run.sync.status()["buffer"]
        assert why["lag_measured"] and why["push_lag_s"] >= PUSH_TAKES


async def test_a_fixed_buffer_reports_itself_as_fixed(database_url: str) -> None:
    async with running(database_url, show=ShowRule(buffer=2)) as run:
        run.stock(10, 1, 0)
        await run.shows({"SHEET-0": 8, "SHEET-1": 0, "SHEET-2": 0})
        assert run.sync.status()["buffer"] == {"mode": "fixed", "units": 2}
