"""The live stream's bulk read of variant details (store/stock_grid.variant_infos), on both stores."""

from __future__ import annotations

from store.engine import make_engine
from store.stock_grid import variant_info, variant_infos
from tests.integration.conftest import small_catalog


async def test_several_variants_details_come_back_in_one_read_as_the_single_read_gives_them(
        database_url: str) -> None:
    fixture = await small_catalog(database_url, variants=5)
    engine = make_engine(database_url)
    try:
        found = await variant_infos(engine, [*fixture.variants, 999_999])
        alone = [await variant_info(engine, variant_id) for variant_id in fixture.variants]
    finally:
        await engine.dispose()
    assert sorted(found) == sorted(fixture.variants), "an unknown id is left out"
    assert [found[info.variant_id] for info in alone if info is not None] == alone
