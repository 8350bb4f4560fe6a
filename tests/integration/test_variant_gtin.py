"""A GTIN per variant in the store (migration 0003_variant_gtin), on SQLite and PostgreSQL: stored
with the variant, shown with the product, found by GTIN, and never on two variants."""

from __future__ import annotations

import pytest

from store import queries
from store.catalog import Catalog, Conflict, NewVariant
from store.engine import make_engine

UPC, EAN = "012345678905", "4006381333931"


async def test_a_variant_keeps_its_gtin_and_is_found_by_it(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        catalog = Catalog(engine)
        await catalog.add_product("SHEET", "Sheet", "", [NewVariant("SHEET-Q", gtin=UPC), NewVariant("SHEET-K", gtin=EAN),
                                                         NewVariant("SHEET-T")])
        product = await queries.product(engine, "SHEET")
        assert product is not None
        assert [(v["sku"], v["gtin"]) for v in product["variants"]] == [
            ("SHEET-Q", UPC), ("SHEET-K", EAN), ("SHEET-T", None)]
        assert await catalog.variant_by_gtin(EAN) == (await catalog.variant_id("SHEET-K"), "SHEET-K")
        assert await catalog.variant_by_gtin("000000000000") is None
        assert (catalog.gtin("SHEET-Q"), catalog.gtin("SHEET-T")) == (UPC, "")
    finally:
        await engine.dispose()


async def test_a_gtin_already_on_a_variant_is_refused_naming_it(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        catalog = Catalog(engine)
        await catalog.add_product("SHEET", "Sheet", "", [NewVariant("SHEET-Q", gtin=UPC)])
        with pytest.raises(Conflict, match="gtin"):
            await catalog.add_product("DUVET", "Duvet", "", [NewVariant("DUVET-Q", gtin=UPC)])
        assert await catalog.variant_id("DUVET-Q") is None
    finally:
        await engine.dispose()
