"""Reports count a kit sold both as a kit and as the components it used, on SQLite and PostgreSQL,
over rows as the desk and the shards write them (a kit plan, and the component lines it names)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import insert

from inventory.kits import KitLine
from store.engine import make_engine
from store.kits import add_kit, record_plan
from store.reports import Window, days_of_cover, turnover
from store.schema import inventory, order_lines, orders
from tests.conftest import store_database
from tests.integration.conftest import small_catalog


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_a_kit_sold_counts_as_a_kit_and_as_its_components(tmp_path: Path, store: str) -> None:
    async with store_database(store, tmp_path) as url:
        fx = await small_catalog(url)
        engine = make_engine(url)
        try:
            sheet, pillow = fx.variants[0], fx.variants[1]
            kit = await add_kit(engine, "SET-Q", "Queen set", [("SHEET-0", 1), ("SHEET-1", 2)])
            now = time.time()
            async with engine.begin() as conn:
                for n, (order_id, state) in enumerate([("o1", "fulfilled"), ("o2", "rejected"), ("o3", "open")]):
                    seq = int((now - 60) * 1000) << 20 | n
                    await conn.execute(insert(orders).values(
                        seq=seq, id=order_id, channel="direct", external_id=order_id, policy="reject",
                        locations="", placed_at=now - 60, signature=f"sig-{order_id}"))
                    lines = [(1, sheet, 3), (2, sheet, 2), (3, pillow, 4)]  # a sheet alone, then 2 kits
                    await conn.execute(insert(order_lines), [
                        {"order_seq": seq, "line_no": no, "variant_id": v, "quantity": q, "backordered": 0,
                         "state": state if no > 1 else "fulfilled"} for no, v, q in lines])
            for order_id in ("o1", "o2", "o3"):
                await record_plan(engine, order_id, f"sig-{order_id}", [KitLine(2, kit, 2, 2, 2)])
            await record_plan(engine, "o1", "another-signature", [KitLine(2, kit, 9, 2, 2)])  # never placed
            window = Window.last(1)
            async with engine.begin() as conn:
                await conn.execute(insert(inventory), [
                    {"variant_id": v, "location_id": fx.east, "on_hand": n, "reserved": 0, "updated_at": now}
                    for v, n in ((sheet, 7), (pillow, 6))])
            cover = {row.sku: row for row in await days_of_cover(engine, window)}
            assert (cover["SET-Q"].sold, cover["SHEET-0"].sold, cover["SHEET-1"].sold) == (4, 3 * 3 + 2 * 2, 2 * 4)
            assert cover["SET-Q"].available == 3  # what its pillowcases allow
            by_product = {row.sku: row.sold for row in await turnover(engine, window)}
            assert (by_product["SET-Q"], by_product["SHEET"]) == (4, 3 * 3 + 2 * 2 + 2 * 4)
        finally:
            await engine.dispose()
