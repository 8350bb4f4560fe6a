"""Reads for the dashboard's stock grid: variants with their names, stock per location and backorders,
filtered; and the reorder points managers set. Plain rows: web/dashboard builds the grid from them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.commands import LineStatus
from inventory.kits import KitStock, kit_stock
from store.kits import load_kits
from store.schema import inventory, locations, order_lines, products, variants

MAX_ROWS = 1000


@dataclass(frozen=True, slots=True)
class VariantInfo:
    """What a stock event does not carry: the variant's names and its reorder point."""

    variant_id: int
    sku: str
    product_sku: str
    product_name: str
    size: str
    color: str
    material: str
    reorder_point: int | None


@dataclass(frozen=True, slots=True)
class StockQuery:
    """Which variants to read (empty: any); `search` matches the sku or the product's name."""

    product: str = ""
    size: str = ""
    color: str = ""
    material: str = ""
    location: str = ""  # variants with units on hand there
    sku: str = ""
    search: str = ""


class VariantLevels(NamedTuple):
    info: VariantInfo
    levels: dict[str, tuple[int, int]]  # location code -> (on hand, reserved)
    backordered: int

_info_columns = (variants.c.id, variants.c.sku, products.c.sku.label("product_sku"),
                 products.c.name.label("product_name"), variants.c.size, variants.c.color,
                 variants.c.material, variants.c.reorder_point)


def _info(row: Any) -> VariantInfo:
    return VariantInfo(row.id, row.sku, row.product_sku, row.product_name, row.size, row.color,
                       row.material, row.reorder_point)


def _conditions(filters: StockQuery) -> list[Any]:
    found: list[Any] = []
    for column, value in ((products.c.sku, filters.product), (variants.c.size, filters.size),
                          (variants.c.color, filters.color), (variants.c.material, filters.material),
                          (variants.c.sku, filters.sku)):
        if value:
            found.append(column == value)
    if filters.search:
        pattern = f"%{filters.search.replace('%', '').replace('_', '')}%"
        found.append(variants.c.sku.ilike(pattern) | products.c.name.ilike(pattern))
    if filters.location:
        found.append(exists().where(
            inventory.c.variant_id == variants.c.id, inventory.c.on_hand > 0,
            inventory.c.location_id == select(locations.c.id).where(locations.c.code == filters.location)
            .scalar_subquery()))
    return found


async def stock_levels(engine: AsyncEngine, filters: StockQuery, limit: int = MAX_ROWS
                       ) -> list[VariantLevels]:
    query = (select(*_info_columns).join(products, products.c.id == variants.c.product_id)
             .where(*_conditions(filters)).order_by(products.c.sku, variants.c.id).limit(limit))
    async with engine.connect() as conn:
        infos = [_info(row) for row in (await conn.execute(query)).all()]
        levels, backorders = await _stock_of(conn, [info.variant_id for info in infos])
    return [VariantLevels(info, levels.get(info.variant_id, {}), backorders.get(info.variant_id, 0))
            for info in infos]


async def _stock_of(conn: Any, variant_ids: list[int]
                    ) -> tuple[dict[int, dict[str, tuple[int, int]]], dict[int, int]]:
    levels: dict[int, dict[str, tuple[int, int]]] = {}
    backorders: dict[int, int] = {}
    if not variant_ids:
        return levels, backorders
    rows = await conn.execute(
        select(inventory.c.variant_id, locations.c.code, inventory.c.on_hand, inventory.c.reserved)
        .join(locations, locations.c.id == inventory.c.location_id)
        .where(inventory.c.variant_id.in_(variant_ids)))
    for variant_id, code, on_hand, reserved in rows:
        levels.setdefault(variant_id, {})[code] = (on_hand, reserved)
    waiting = await conn.execute(
        select(order_lines.c.variant_id, func.sum(order_lines.c.backordered))
        .where(order_lines.c.backordered > 0, order_lines.c.state == LineStatus.OPEN,
               order_lines.c.variant_id.in_(variant_ids))
        .group_by(order_lines.c.variant_id))
    backorders = {variant_id: int(total) for variant_id, total in waiting}
    return levels, backorders


async def kit_levels(engine: AsyncEngine, variant_ids: list[int]) -> dict[int, KitStock]:
    """The kits among these variants with their stock by location code (inventory.kits)."""
    kits = await load_kits(engine, variant_ids)
    if not kits:
        return {}
    async with engine.connect() as conn:
        levels, _ = await _stock_of(conn, sorted({c for kit in kits.values() for c in kit.component_ids}))
    return {kit_id: kit_stock(kit, levels) for kit_id, kit in kits.items()}


async def variant_info(engine: AsyncEngine, variant_id: int) -> VariantInfo | None:
    query = (select(*_info_columns).join(products, products.c.id == variants.c.product_id)
             .where(variants.c.id == variant_id))
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else _info(row)


async def variant_infos(engine: AsyncEngine, variant_ids: Iterable[int]) -> dict[int, VariantInfo]:
    """Several variants' details in one query per thousand (the live stream's first flush wants all)."""
    wanted, found = sorted(set(variant_ids)), {}
    async with engine.connect() as conn:
        for start in range(0, len(wanted), 1_000):
            query = (select(*_info_columns).join(products, products.c.id == variants.c.product_id)
                     .where(variants.c.id.in_(wanted[start:start + 1_000])))
            for row in (await conn.execute(query)).all():
                info = _info(row)
                found[info.variant_id] = info
    return found


async def filter_options(engine: AsyncEngine) -> dict[str, list[Any]]:
    """The values each filter can take: products (sku, name), sizes, colours, materials."""
    async with engine.connect() as conn:
        product_rows = (await conn.execute(
            select(products.c.sku, products.c.name).order_by(products.c.sku))).all()
        found: dict[str, list[Any]] = {"products": [(r.sku, r.name) for r in product_rows]}
        for name, column in (("sizes", variants.c.size), ("colors", variants.c.color),
                             ("materials", variants.c.material)):
            values = select(column).distinct().where(column != "").order_by(column)
            found[name] = list((await conn.execute(values)).scalars())
    return found


async def set_reorder_points(engine: AsyncEngine, points: Mapping[int, int | None]) -> None:
    """One transaction for all: a form that sets several points sets all of them or none."""
    async with engine.begin() as conn:
        for variant_id, point in points.items():
            await conn.execute(
                update(variants).where(variants.c.id == variant_id).values(reorder_point=point))
