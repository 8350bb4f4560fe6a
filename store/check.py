"""The ledger is the truth: prove that stock rows equal the fold of the ledger, and that reserved
stock equals the open orders' allocations. Works on any database the store runs on."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import allocations, inventory, ledger, order_lines


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
        held = {
            (r.variant_id, r.location_id): int(r.quantity)
            for r in (await conn.execute(
                select(order_lines.c.variant_id, allocations.c.location_id,
                       func.sum(allocations.c.quantity).label("quantity"))
                .join(order_lines, (order_lines.c.order_id == allocations.c.order_id)
                      & (order_lines.c.line_no == allocations.c.line_no))
                .where(order_lines.c.state == "open")
                .group_by(order_lines.c.variant_id, allocations.c.location_id)
            )).all()
        }
    found = []
    for key in sorted(rows.keys() | fold.keys() | held.keys()):
        on_hand, reserved = rows.get(key, (0, 0))
        folded_on_hand, folded_reserved = fold.get(key, (0, 0))
        if on_hand != folded_on_hand:
            found.append(Mismatch(*key, "on_hand vs ledger", on_hand, folded_on_hand))
        if reserved != folded_reserved:
            found.append(Mismatch(*key, "reserved vs ledger", reserved, folded_reserved))
        if reserved != held.get(key, 0):
            found.append(Mismatch(*key, "reserved vs open allocations", reserved, held.get(key, 0)))
    return found
