"""The ledger is the truth: prove that stock rows equal the fold of the ledger, and that reserved
stock equals the open orders' allocations. Works on any database the store runs on."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.commands import LineStatus
from store.lines import decode_allocations
from store.schema import inventory, ledger, order_lines


@dataclass(frozen=True, slots=True)
class Mismatch:
    variant_id: int
    location_id: int
    what: str
    stock_row: int
    expected: int


async def check_ledger(engine: AsyncEngine) -> list[Mismatch]:
    async with engine.connect() as conn:
        rows = {
            (r.variant_id, r.location_id): (r.on_hand, r.reserved)
            for r in (await conn.execute(select(inventory))).all()
        }
        fold = {
            (r.variant_id, r.location_id): (int(r.on_hand), int(r.reserved))
            for r in (await conn.execute(
                select(ledger.c.variant_id, ledger.c.location_id,
                       func.sum(ledger.c.delta_on_hand).label("on_hand"),
                       func.sum(ledger.c.delta_reserved).label("reserved"))
                .group_by(ledger.c.variant_id, ledger.c.location_id)
            )).all()
        }
        held: dict[tuple[int, int], int] = {}
        open_lines = await conn.stream(
            select(order_lines.c.variant_id, order_lines.c.allocations)
            .where(order_lines.c.state == LineStatus.OPEN)
        )
        async for line in open_lines:
            for location_id, quantity in decode_allocations(line.allocations).items():
                key = (line.variant_id, location_id)
                held[key] = held.get(key, 0) + quantity
    found = []
    for key in sorted(rows.keys() | fold.keys() | held.keys()):
        variant_id, location_id = key
        on_hand, reserved = rows.get(key, (0, 0))
        folded_on_hand, folded_reserved = fold.get(key, (0, 0))
        for what, stock_row, expected in (("on_hand vs ledger", on_hand, folded_on_hand),
                                          ("reserved vs ledger", reserved, folded_reserved),
                                          ("reserved vs open allocations", reserved, held.get(key, 0))):
            if stock_row != expected:
                found.append(Mismatch(variant_id, location_id, what, stock_row, expected))
    return found
