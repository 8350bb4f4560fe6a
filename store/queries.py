"""Read models for the API, straight from the store (committed state only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.commands import LineState, LineStatus, VariantStock
from inventory.kits import KitLine
from store.kits import plans
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
             "reorder_point": v.reorder_point, "gtin": v.gtin}
            for v in rows
        ],
    }


async def variant_stock(engine: AsyncEngine, variant_id: int) -> VariantStock:
    async with engine.connect() as conn:
        rows = (await conn.execute(
            select(inventory.c.location_id, inventory.c.on_hand, inventory.c.reserved)
            .where(inventory.c.variant_id == variant_id)
        )).all()
        backordered = (await conn.execute(
            select(func.coalesce(func.sum(order_lines.c.backordered), 0)).where(
                order_lines.c.variant_id == variant_id, order_lines.c.backordered > 0,
                order_lines.c.state == LineStatus.OPEN
            )
        )).scalar_one()
    return VariantStock(variant_id, {r.location_id: (r.on_hand, r.reserved) for r in rows}, int(backordered))


@dataclass(frozen=True, slots=True)
class StoredOrder:
    """An order as committed: its lines in the same shape the shards answer with."""

    id: str
    channel: str
    external_id: str
    placed_at: float
    lines: tuple[LineState, ...]
    skus: dict[int, str]
    kit_lines: tuple[KitLine, ...] = ()  # which lines make each kit line (inventory.kits.fold)


async def order(engine: AsyncEngine, order_id: str) -> StoredOrder | None:
    found = await orders_where(engine, orders.c.id == order_id, limit=1)
    return found[0] if found else None


async def find_orders(engine: AsyncEngine, channel: str | None, external_id: str | None,
                      limit: int) -> list[StoredOrder]:
    conditions = []
    if channel is not None:
        conditions.append(orders.c.channel == channel)
    if external_id is not None:
        conditions.append(orders.c.external_id == external_id)
    return await orders_where(engine, *conditions, limit=limit)


async def orders_where(engine: AsyncEngine, *conditions: Any, limit: int) -> list[StoredOrder]:
    async with engine.connect() as conn:
        heads = (await conn.execute(
            select(orders).where(*conditions).order_by(orders.c.seq.desc()).limit(limit)
        )).all()
        if not heads:
            return []
        rows = (await conn.execute(
            select(order_lines, variants.c.sku)
            .join(variants, variants.c.id == order_lines.c.variant_id)
            .where(order_lines.c.order_seq.in_([h.seq for h in heads]))
            .order_by(order_lines.c.line_no)
        )).all()
        skus = {r.variant_id: r.sku for r in rows}
        kit_plans = await plans(conn, [(h.id, h.signature) for h in heads], skus)
    lines: dict[int, list[LineState]] = {}
    for r in rows:
        lines.setdefault(r.order_seq, []).append(LineState(
            r.line_no, r.variant_id, r.quantity, decode_allocations(r.allocations), r.backordered,
            LineStatus(r.state)
        ))
    return [StoredOrder(h.id, h.channel, h.external_id, h.placed_at, tuple(lines.get(h.seq, ())), skus,
                        kit_plans.get(h.id, ())) for h in heads]


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
    rejected = select(order_lines.c.order_seq).where(order_lines.c.state == LineStatus.REJECTED).distinct()
    query = select(orders.c.id, order_lines.c.variant_id) \
        .join(orders, orders.c.seq == order_lines.c.order_seq) \
        .where(order_lines.c.order_seq.in_(rejected), order_lines.c.state == LineStatus.OPEN)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    found: dict[str, list[int]] = {}
    for row in rows:
        found.setdefault(row.id, []).append(row.variant_id)
    return list(found.items())
