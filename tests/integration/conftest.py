"""A small catalog for the integration tier: two warehouses and a product with variants."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from store.catalog import Catalog, NewVariant
from store.check import check_ledger
from store.engine import make_engine


@dataclass(frozen=True)
class Fixture:
    url: str
    east: int
    west: int
    variants: list[int]


async def small_catalog(url: str, variants: int = 8) -> Fixture:
    engine = make_engine(url)
    try:
        catalog = Catalog(engine)
        east = await catalog.add_location("WH-EAST", "East", "warehouse", 10)
        west = await catalog.add_location("WH-WEST", "West", "warehouse", 20)
        skus = [NewVariant(f"SHEET-{i}", "queen", "white", "percale") for i in range(variants)]
        await catalog.add_product("SHEET", "Percale sheet", "", skus)
        ids = [await catalog.variant_id(f"SHEET-{i}") for i in range(variants)]
    finally:
        await engine.dispose()
    return Fixture(url, east.id, west.id, [i for i in ids if i is not None])


@contextlib.asynccontextmanager
async def connection(url: str) -> AsyncIterator[AsyncConnection]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            yield conn
    finally:
        await engine.dispose()


async def table_count(url: str, table: Any) -> int:
    async with connection(url) as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def ledger_fold_holds(url: str) -> bool:
    engine = make_engine(url)
    try:
        return await check_ledger(engine) == []
    finally:
        await engine.dispose()
