"""What the alert watcher (service.watch) checks: variants with a reorder point or units waiting for
stock, with their stock in all locations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.commands import LineStatus
from store.schema import inventory, order_lines, variants


@dataclass(frozen=True, slots=True)
class WatchedLevel:
    variant_id: int
    sku: str
    reorder_point: int | None
    available: int
    backordered: int


async def watched_levels(engine: AsyncEngine) -> list[WatchedLevel]:
    """Every variant with a reorder point or units waiting for stock, with its stock in all locations."""
    stock = (select(inventory.c.variant_id,
                    func.sum(inventory.c.on_hand - inventory.c.reserved).label("available"))
             .group_by(inventory.c.variant_id).subquery())
    waiting = (select(order_lines.c.variant_id, func.sum(order_lines.c.backordered).label("backordered"))
               # the partial index
               .where(order_lines.c.backordered > 0, order_lines.c.state == LineStatus.OPEN)
               .group_by(order_lines.c.variant_id).subquery())
    query = (select(variants.c.id, variants.c.sku, variants.c.reorder_point,
                    func.coalesce(stock.c.available, 0), func.coalesce(waiting.c.backordered, 0))
             .select_from(variants.outerjoin(stock, stock.c.variant_id == variants.c.id)
                          .outerjoin(waiting, waiting.c.variant_id == variants.c.id))
             .where(variants.c.reorder_point.is_not(None) | (waiting.c.backordered > 0)))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [WatchedLevel(vid, sku, point, int(available), int(backordered))
            for vid, sku, point, available, backordered in rows]
