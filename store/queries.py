"""Read models for the API, straight from the store (committed state only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from actors.allocation import order_status
from actors.commands import LineState
from store.lines import decode_allocations
from store.schema import (
    inventory,
    ledger,
    locations,
    order_lines,
    orders,
    products,
    variants,
)


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat().replace("+00:00", "Z")


async def product(engine: AsyncEngine, sku: str) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        head = (await conn.execute(select(products).where(products.c.sku == sku))).first()
        if head is None:
            return None
        rows = (await conn.execute(
            select(variants).where(variants.c.product_id == head.id).order_by(variants.c.id)
        )).all()
    return {
        "sku": head.sku, "name": head.name, "description": head.description,
        "variants": [
            {"sku": v.sku, "size": v.size, "color": v.color, "material": v.material,
             "reorder_point": v.reorder_point}
            for v in rows
        ],
    }


async def variant_stock(engine: AsyncEngine, variant_id: int, sku: str) -> dict[str, Any]:
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(locations.c.code, inventory.c.on_hand, inventory.c.reserved)
            .join(locations, locations.c.id == inventory.c.location_id)
            .where(inventory.c.variant_id == variant_id)
            .order_by(locations.c.priority, locations.c.id)
        )).all()
        backordered = (await conn.execute(
            select(func.coalesce(func.sum(order_lines.c.backordered), 0)).where(
                order_lines.c.variant_id == variant_id, order_lines.c.backordered > 0,
                order_lines.c.state == "open"
            )
        )).scalar_one()
    levels = [
        {"location": r.code, "on_hand": r.on_hand, "reserved": r.reserved,
         "available": r.on_hand - r.reserved}
        for r in rows
    ]
    return {
        "sku": sku,
        "available": sum(level["available"] for level in levels),
        "on_hand": sum(level["on_hand"] for level in levels),
        "reserved": sum(level["reserved"] for level in levels),
        "backordered": int(backordered),
        "locations": levels,
    }


async def order(engine: AsyncEngine, order_id: str) -> dict[str, Any] | None:
    found = await _orders(engine, orders.c.id == order_id, limit=1)
    return found[0] if found else None


async def find_orders(engine: AsyncEngine, channel: str | None, external_id: str | None,
                      limit: int) -> list[dict[str, Any]]:
    conditions = []
    if channel is not None:
        conditions.append(orders.c.channel == channel)
    if external_id is not None:
        conditions.append(orders.c.external_id == external_id)
    return await _orders(engine, *conditions, limit=limit)


async def order_variants(engine: AsyncEngine, order_id: str) -> list[int]:
    async with engine.connect() as conn:
        query = select(order_lines.c.variant_id).join(orders, orders.c.seq == order_lines.c.order_seq) \
            .where(orders.c.id == order_id)
        return list((await conn.execute(query)).scalars().all())


async def _orders(engine: AsyncEngine, *conditions: Any, limit: int) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        heads = (await conn.execute(
            select(orders).where(*conditions).order_by(orders.c.seq.desc()).limit(limit)
        )).all()
        seqs = [h.seq for h in heads]
        if not seqs:
            return []
        lines = (await conn.execute(
            select(order_lines, variants.c.sku)
            .join(variants, variants.c.id == order_lines.c.variant_id)
            .where(order_lines.c.order_seq.in_(seqs))
            .order_by(order_lines.c.line_no)
        )).all()
        places = (await conn.execute(
            select(locations.c.id, locations.c.code).order_by(locations.c.priority, locations.c.id)
        )).all()
    codes = {p.id: p.code for p in places}
    rank = {p.id: n for n, p in enumerate(places)}
    by_line: dict[tuple[int, int], dict[str, int]] = {}
    for ln in lines:
        taken = decode_allocations(ln.allocations)
        by_line[(ln.order_seq, ln.line_no)] = {
            codes[loc]: taken[loc] for loc in sorted(taken, key=lambda loc: rank.get(loc, 0))
        }
    return [_order_answer(h, [ln for ln in lines if ln.order_seq == h.seq], by_line) for h in heads]


def _order_answer(head: Any, lines: list[Any], by_line: dict[tuple[int, int], dict[str, int]]
                  ) -> dict[str, Any]:
    states = []
    answer_lines = []
    for line in lines:
        taken = by_line.get((line.order_seq, line.line_no), {})
        states.append(LineState(line.line_no, line.variant_id, line.quantity,
                                {i: q for i, q in enumerate(taken.values())}, line.backordered, line.state))
        answer_lines.append({
            "sku": line.sku, "quantity": line.quantity, "reserved": sum(taken.values()),
            "backordered": line.backordered, "state": line.state,
            "allocations": [{"location": code, "quantity": q} for code, q in taken.items()],
        })
    return {
        "id": head.id, "channel": head.channel, "external_id": head.external_id,
        "status": order_status(states), "placed_at": iso(head.placed_at), "lines": answer_lines,
    }


async def ledger_entries(engine: AsyncEngine, variant_id: int | None, location_id: int | None,
                         limit: int) -> list[dict[str, Any]]:
    query = (
        select(ledger, variants.c.sku, locations.c.code)
        .join(variants, variants.c.id == ledger.c.variant_id)
        .join(locations, locations.c.id == ledger.c.location_id)
        .order_by(ledger.c.id.desc())
        .limit(limit)
    )
    if variant_id is not None:
        query = query.where(ledger.c.variant_id == variant_id)
    if location_id is not None:
        query = query.where(ledger.c.location_id == location_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        {"at": iso(r.at), "sku": r.sku, "location": r.code, "kind": r.kind,
         "delta_on_hand": r.delta_on_hand, "delta_reserved": r.delta_reserved, "reason": r.reason,
         "reference": r.reference, "note": r.note, "actor": r.actor}
        for r in rows
    ]


async def all_locations(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(locations).order_by(locations.c.priority, locations.c.id))).all()
    return [{"code": r.code, "name": r.name, "kind": r.kind, "priority": r.priority} for r in rows]


async def half_rejected_orders(engine: AsyncEngine) -> list[tuple[str, list[int]]]:
    """Orders with a rejected part and a part still open: left so by a crash between the two."""
    rejected = select(order_lines.c.order_seq).where(order_lines.c.state == "rejected").distinct()
    query = select(orders.c.id, order_lines.c.variant_id) \
        .join(orders, orders.c.seq == order_lines.c.order_seq) \
        .where(order_lines.c.order_seq.in_(rejected), order_lines.c.state == "open")
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    found: dict[str, list[int]] = {}
    for row in rows:
        found.setdefault(row.id, []).append(row.variant_id)
    return list(found.items())
