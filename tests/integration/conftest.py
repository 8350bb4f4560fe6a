"""A small catalog for the integration tier: two warehouses and a product with variants; stock shards
as real Ray actors with a desk over them, and what the store holds after a storm; and the fixtures of
the Shopify connector tests (a webhook inbox, an HTTP session, a started shop)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from actors.router import ShardRouter
from actors.shard import shard_actor_class
from inventory.desk import StockDesk
from simulators.shopify import ShopifySimulator
from store.catalog import Catalog, NewVariant
from store.check import check_ledger
from store.engine import make_engine
from store.schema import inventory, ledger
from tests.integration.shopify_shop import SKUS, Inbox, running
from tests.integration.webhook_server import serving


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


class Shards:
    """Shard actors and a desk over them, one database, as the service runs them (the router's call
    timeout included)."""

    def __init__(self, ray: Any, url: str, count: int = 2):
        self.ray = ray
        self.actors = [shard_actor_class().remote(i, count, url) for i in range(count)]
        self.desk = StockDesk(ShardRouter.for_actors(self.actors))

    async def __aenter__(self) -> Shards:
        await asyncio.gather(*(a.ready.remote() for a in self.actors))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.desk.router.close()
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)


async def stock_rows(url: str, variant: int) -> dict[int, tuple[int, int]]:
    """`variant`'s stock rows: location id -> (on hand, reserved)."""
    async with connection(url) as conn:
        rows = (await conn.execute(select(inventory).where(inventory.c.variant_id == variant))).all()
    return {r.location_id: (r.on_hand, r.reserved) for r in rows}


async def reserve_entries_per_order(url: str) -> int:
    """The most reserve entries any one order has: 1 means none was applied twice."""
    async with connection(url) as conn:
        per_order = select(func.count().label("n")).where(ledger.c.kind == "reserve") \
            .group_by(ledger.c.reference).subquery()
        return int((await conn.execute(select(func.max(per_order.c.n)))).scalar_one())


# --- the Shopify connector tests' shop (tests/integration/shopify_shop.py) ---------------------------

@pytest_asyncio.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox()
    async with serving("/webhooks/shopify", box.receive) as box.url:
        yield box


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:
        yield client


@pytest_asyncio.fixture
async def shop(inbox: Inbox) -> AsyncIterator[ShopifySimulator]:
    async with running(SKUS, webhook_url=inbox.url, options={"retry_after": 0.3}) as sim:
        yield sim
