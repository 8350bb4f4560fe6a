"""The holds table on SQLite and PostgreSQL: one claim wins, a refused conversion is undone, a
hold the shards refused is forgotten."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from inventory.holds import HoldStatus
from store import holds
from store.engine import make_engine
from store.holds import Conversion, StoredHold
from tests.conftest import store_database


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_only_the_first_claim_ends_a_hold_and_a_refused_conversion_holds_it_again(
        tmp_path: Path, store: str) -> None:
    async with store_database(store, tmp_path) as url:
        engine = make_engine(url)
        try:
            now = time.time()
            await holds.insert(engine, StoredHold("hld_x", "direct", HoldStatus.HELD, [(1, 2)], now, now + 5,
                                                  actor="tester"))
            assert await holds.held(engine) == [("hld_x", now + 5)]
            assert await holds.claim(engine, "hld_x", HoldStatus.CONVERTED, now, "tester",
                                     Conversion("ord_1", "cart-1", [(1, 2)]))
            assert not await holds.claim(engine, "hld_x", HoldStatus.EXPIRED, now, "hold-expiry")
            assert not await holds.claim(engine, "hld_x", HoldStatus.RELEASED, now, "tester")
            converted = await holds.get(engine, "hld_x")
            assert converted is not None and converted.order_lines == [(1, 2)] and converted.order_id == "ord_1"
            assert await holds.unsettled(engine) == []   # no part on the shards at all here
            assert not await holds.unclaim(engine, "hld_x", "ord_other")
            assert await holds.unclaim(engine, "hld_x", "ord_1")
            again = await holds.get(engine, "hld_x")
            assert again is not None and again.status == HoldStatus.HELD and again.order_id is None
            assert [h.id for h in await holds.listing(engine, [HoldStatus.HELD], 10)] == ["hld_x"]
            await holds.forget(engine, "hld_x")
            assert await holds.get(engine, "hld_x") is None
        finally:
            await engine.dispose()
