"""service.stock and service.orders: every command goes through the desk with the caller as its
actor and, once applied, lands in the audit trail; a refusal comes back as the domain's Failure and
leaves no trace. A fake desk stands in for the shards; the audit trail is a real SQLite store."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio

from inventory.commands import (
    Adjust,
    Failure,
    LineState,
    LineStatus,
    Receive,
    Result,
    StockCommand,
    Transfer,
    VariantStock,
)
from inventory.desk import Channel, OrderOutcome
from service import orders, stock
from store import audit
from store.catalog import Catalog, NewVariant
from store.engine import make_engine
from store.schema import order_lines
from store.schema import orders as orders_table
from tests.conftest import sqlite_database

EAST, WEST = 1, 2
SHOP = Channel("web", "backorder", (EAST,))


class FakeDesk:
    """Answers as the desk does: stock after a stock command, an outcome or a Failure for orders."""

    def __init__(self) -> None:
        self.commands: list[StockCommand] = []
        self.transitions: list[tuple[str, str, list[int], str | None]] = []
        self.refuse: Failure | None = None
        self.seen: set[str] = set()
        self.placed_by: list[str | None] = []

    async def stock_command(self, command: StockCommand) -> Result:
        self.commands.append(command)
        if self.refuse is not None or (isinstance(command, Adjust) and command.counted == -1):
            return self.refuse or Failure("below_reserved", "count: below reserved")
        return VariantStock(command.variant_id, {EAST: (5, 1)}, 0)

    async def place_order(self, channel: Channel, external_id: str, lines: Sequence[tuple[int, int]],
                          actor: str | None = None, kits: Any = None) -> OrderOutcome | Failure:
        order_id = f"ord_{external_id}"
        self.placed_by.append(actor)
        created = order_id not in self.seen
        self.seen.add(order_id)
        states = tuple(LineState(n, v, q, {EAST: q}, 0, LineStatus.OPEN) for n, (v, q) in enumerate(lines, 1))
        return OrderOutcome(order_id, created, states)

    async def fulfil(self, order_id: str, variant_ids: Iterable[int], actor: str | None = None
                     ) -> OrderOutcome | Failure:
        return self._transition("fulfil", order_id, variant_ids, actor)

    async def cancel(self, order_id: str, variant_ids: Iterable[int], actor: str | None = None
                     ) -> OrderOutcome | Failure:
        return self._transition("cancel", order_id, variant_ids, actor)

    def _transition(self, action: str, order_id: str, variant_ids: Iterable[int], actor: str | None
                    ) -> OrderOutcome | Failure:
        self.transitions.append((action, order_id, list(variant_ids), actor))
        return self.refuse or OrderOutcome(order_id, False, ())


class FakeCatalog:
    async def kits_among(self, variant_ids: Iterable[int]) -> dict[int, Any]:
        return {}

    def sku(self, variant_id: int) -> str:
        return f"SKU-{variant_id}"

    def location_code(self, location_id: int) -> str:
        return {EAST: "WH-EAST", WEST: "WH-WEST"}[location_id]


@pytest_asyncio.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Any]:
    engine = make_engine(await sqlite_database(tmp_path))
    try:
        yield SimpleNamespace(desk=FakeDesk(), catalog=FakeCatalog(), engine=engine, read_engine=engine)
    finally:
        await engine.dispose()


async def test_an_adjustment_is_applied_as_its_caller_and_audited_with_what_and_why(rt: Any) -> None:
    command = Adjust("api:k1", 7, EAST, "damage", delta=-2, note="wet")
    result = await stock.adjust(rt, command, "admin@api")
    assert result == VariantStock(7, {EAST: (5, 1)}, 0)
    assert rt.desk.commands == [command._replace(actor="admin@api")]
    [entry] = await audit.entries(rt.engine)
    assert (entry["actor"], entry["action"], entry["subject"]) == ("admin@api", "stock.adjust", "SKU-7")
    assert entry["detail"] == {"command_id": "api:k1", "location": "WH-EAST", "reason": "damage", "delta": -2,
                               "note": "wet", "why": ""}


async def test_receipts_and_transfers_name_their_locations_by_code_in_the_trail(rt: Any) -> None:
    await stock.receive(rt, Receive("dash:1", 7, EAST, 4, reference="PO-9"), "manager")
    await stock.transfer(rt, Transfer("dash:2", 7, EAST, WEST, 1), "manager")
    moved, received = await audit.entries(rt.engine)
    assert (received["action"], received["detail"]["location"], received["detail"]["reference"]) == (
        "stock.receive", "WH-EAST", "PO-9")
    assert (moved["action"], moved["detail"]["from_location"], moved["detail"]["to_location"]) == (
        "stock.transfer", "WH-EAST", "WH-WEST")
    assert {c.actor for c in rt.desk.commands} == {"manager"}


async def test_a_refused_stock_command_comes_back_as_the_failure_and_is_not_audited(rt: Any) -> None:
    rt.desk.refuse = Failure("insufficient_stock", "quantity: 9 requested but only 1 available")
    result = await stock.transfer(rt, Transfer("api:t", 7, EAST, WEST, 9), "admin@api")
    assert result == rt.desk.refuse
    assert await audit.entries(rt.engine) == []


async def test_a_stock_take_reports_each_count_and_audits_the_whole_take_once(rt: Any) -> None:
    counts = [Adjust(f"take:{n}", 7, EAST, "count", counted=c) for n, c in enumerate([3, -1, 4])]
    seen: list[Result] = []
    results = await stock.stock_take(rt, counts, "manager", "counts.csv", seen.extend, refused_before=2)
    assert seen == results and [isinstance(r, Failure) for r in results] == [False, True, False]
    assert {(c.actor, c.note) for c in rt.desk.commands} == {("manager", "stock-take counts.csv")}
    [entry] = await audit.entries(rt.engine)
    assert (entry["action"], entry["subject"], entry["detail"]["applied"], entry["detail"]["rejected"]) == (
        "stock.stocktake", "counts.csv", 2, 3)


async def test_placing_an_order_names_its_caller_to_the_shards_and_adds_no_second_write(rt: Any) -> None:
    first = await orders.place(rt, SHOP, "W-1", [(7, 2)], "admin@api")
    again = await orders.place(rt, SHOP, "W-1", [(7, 2)], "admin@api")
    assert isinstance(first, OrderOutcome) and first.created
    assert isinstance(again, OrderOutcome) and not again.created
    assert rt.desk.placed_by == ["admin@api", "admin@api"]  # the order's ledger entries name the caller
    assert await audit.entries(rt.engine) == []


async def stored_order(rt: Any, order_id: str, external_id: str) -> list[int]:
    catalog = Catalog(rt.engine)
    await catalog.add_product("SHEET", "Sheet", "", [NewVariant("SHEET-1", "queen", "white", "cotton")])
    variant_id = await catalog.variant_id("SHEET-1")
    assert variant_id is not None
    async with rt.engine.begin() as conn:
        await conn.execute(orders_table.insert().values(seq=1, id=order_id, channel="web", external_id=external_id,
                                                        policy="backorder", locations="1", placed_at=time.time()))
        await conn.execute(order_lines.insert().values(order_seq=1, line_no=1, variant_id=variant_id, quantity=2,
                                                       backordered=0, state="open"))
    return [variant_id]


@pytest.mark.parametrize("action", ["fulfil", "cancel"])
async def test_fulfil_and_cancel_go_to_the_shards_holding_the_lines_and_are_audited(rt: Any, action: str) -> None:
    variant_ids = await stored_order(rt, "ord_1", "W-1")
    done = await getattr(orders, action)(rt, "ord_1", "manager")
    assert not isinstance(done, Failure) and done.id == "ord_1"
    assert rt.desk.transitions == [(action, "ord_1", variant_ids, "manager")]
    [entry] = await audit.entries(rt.engine)
    assert (entry["actor"], entry["action"], entry["detail"]) == (
        "manager", f"order.{action}", {"channel": "web", "external_id": "W-1"})


async def test_a_refused_fulfil_is_the_shards_failure_and_leaves_no_trace(rt: Any) -> None:
    await stored_order(rt, "ord_1", "W-1")
    rt.desk.refuse = Failure("order_backordered", "order ord_1 still has backordered units")
    assert await orders.fulfil(rt, "ord_1", "manager") == rt.desk.refuse
    assert await audit.entries(rt.engine) == []


async def test_an_order_nobody_placed_is_not_found_without_asking_the_shards(rt: Any) -> None:
    result = await orders.cancel(rt, "ord_nothing", "manager")
    assert isinstance(result, Failure) and result.code == "not_found"
    assert rt.desk.transitions == []
