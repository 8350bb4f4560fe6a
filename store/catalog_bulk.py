"""The catalog and stock in bulk, for the dashboard's CSV export and import."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.catalog import Conflict, NewVariant
from store.schema import inventory, locations, products, variants


async def catalog_export(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    """product_sku, product_name, description, sku, size, color, material, reorder_point."""
    query = (select(products.c.sku.label("product_sku"), products.c.name, products.c.description,
                    variants.c.sku, variants.c.size, variants.c.color, variants.c.material,
                    variants.c.reorder_point)
             .join(products, products.c.id == variants.c.product_id).order_by(products.c.sku, variants.c.id))
    async with engine.connect() as conn:
        return [tuple("" if value is None else value for value in row) for row in await conn.execute(query)]


async def stock_export(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    """sku, location, on_hand, reserved, available: every stock row."""
    query = (select(variants.c.sku, locations.c.code, inventory.c.on_hand, inventory.c.reserved)
             .join(variants, variants.c.id == inventory.c.variant_id)
             .join(locations, locations.c.id == inventory.c.location_id)
             .order_by(variants.c.sku, locations.c.priority, locations.c.id))
    async with engine.connect() as conn:
        return [(sku, code, on_hand, reserved, on_hand - reserved)
                for sku, code, on_hand, reserved in await conn.execute(query)]


async def all_skus(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(variants.c.sku, variants.c.id))
        return {sku: variant_id for sku, variant_id in rows}


async def existing_variants(engine: AsyncEngine, skus: Iterable[str]) -> dict[str, tuple[int, str]]:
    """sku -> (variant id, its product's sku), for those that exist."""
    wanted = list(skus)
    found: dict[str, tuple[int, str]] = {}
    async with engine.connect() as conn:
        for start in range(0, len(wanted), 500):  # bounded IN lists
            query = (select(variants.c.sku, variants.c.id, products.c.sku.label("product_sku"))
                     .join(products, products.c.id == variants.c.product_id)
                     .where(variants.c.sku.in_(wanted[start:start + 500])))
            for row in await conn.execute(query):
                found[row.sku] = (row.id, row.product_sku)
    return found


async def product_id(engine: AsyncEngine, product_sku: str) -> int | None:
    async with engine.connect() as conn:
        found = (await conn.execute(select(products.c.id).where(products.c.sku == product_sku))).first()
    return None if found is None else int(found.id)


async def add_variants(engine: AsyncEngine, product: int, new_variants: list[NewVariant]) -> None:
    """More variants for an existing product, all or none."""
    try:
        async with engine.begin() as conn:
            await conn.execute(insert(variants), [
                {"product_id": product, "sku": v.sku, "size": v.size, "color": v.color,
                 "material": v.material} for v in new_variants
            ])
    except IntegrityError:
        raise Conflict("sku: one of these variants was created meanwhile; upload again") from None
