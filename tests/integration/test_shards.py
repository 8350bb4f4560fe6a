"""Stock shards as real Ray actors under one shared Ray instance: storms, replays, a killed shard."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from inventory.commands import Failure, Receive
from inventory.desk import Channel, OrderOutcome, ShardUnavailable, StockDesk
from store.schema import ledger
from tests.conftest import sqlite_database, store_database
from tests.integration.conftest import (
    Fixture,
    Shards,
    ledger_fold_holds,
    reserve_entries_per_order,
    small_catalog,
    stock_rows,
    table_count,
)


async def storm_one_variant(desk: StockDesk, fx: Fixture) -> list[OrderOutcome | Failure]:
    v = fx.variants[0]
    await desk.stock_command(Receive("east", v, fx.east, 60))
    await desk.stock_command(Receive("west", v, fx.west, 40))
    direct = Channel("direct", "reject", (fx.east, fx.west))
    return await asyncio.gather(*(desk.place_order(direct, f"client-{i}", [(v, 2)]) for i in range(64)))


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_64_concurrent_clients_get_exactly_the_100_units_one_variant_holds_across_two_locations(
    ray_session: Any, tmp_path: Path, store: str
) -> None:
    async with store_database(store, tmp_path) as url:
        fx = await small_catalog(url)
        async with Shards(ray_session, url) as engine:
            desk = engine.desk
            outcomes = await storm_one_variant(desk, fx)
            reserved = sum(line.reserved for o in outcomes if isinstance(o, OrderOutcome) for line in o.lines)
            statuses = [o.lines[0].state for o in outcomes if isinstance(o, OrderOutcome)]
            assert reserved == 100
            assert statuses.count("open") == 50 and statuses.count("rejected") == 14
            assert await stock_rows(url, fx.variants[0]) == {fx.east: (60, 60), fx.west: (40, 40)}

            ledger_rows = await table_count(url, ledger)
            again = await storm_one_variant(desk, fx)  # the same 64 orders (and receipts) once more
            assert [o.lines for o in again if isinstance(o, OrderOutcome)] == \
                   [o.lines for o in outcomes if isinstance(o, OrderOutcome)]
            assert not any(isinstance(o, OrderOutcome) and o.created for o in again)
            assert await table_count(url, ledger) == ledger_rows
        assert await ledger_fold_holds(url)


async def test_a_shard_killed_mid_storm_loses_no_acknowledged_order_and_applies_none_twice(
    ray_session: Any, tmp_path: Path
) -> None:
    url = await sqlite_database(tmp_path)
    fx = await small_catalog(url, variants=16)
    async with Shards(ray_session, url) as engine:
        desk = engine.desk
        await asyncio.gather(*(desk.stock_command(Receive(f"r{v}", v, fx.east, 10_000)) for v in fx.variants))
        direct = Channel("direct", "reject", (fx.east, fx.west))
        acknowledged: dict[str, tuple[int, int]] = {}
        stop_at = time.monotonic() + 4.0

        async def client(n: int) -> None:
            i = 0
            while time.monotonic() < stop_at:
                variant, external_id = fx.variants[(n + i) % 16], f"c{n}-{i}"
                i += 1
                try:
                    outcome = await desk.place_order(direct, external_id, [(variant, 1)])
                except ShardUnavailable:
                    continue  # not acknowledged: the client would retry; it may or may not exist
                if isinstance(outcome, OrderOutcome) and outcome.lines[0].reserved == 1:
                    acknowledged[external_id] = (variant, 1)

        async def killer() -> None:
            await asyncio.sleep(1.5)
            ray_session.kill(engine.actors[0], no_restart=False)  # Ray restarts it and retries

        await asyncio.gather(*(client(n) for n in range(32)), killer())
        assert len(acknowledged) > 500

        # Every acknowledged order is there, reserved exactly once: sending them all again is a replay.
        again = await asyncio.gather(*(
            desk.place_order(direct, ext, [line]) for ext, line in acknowledged.items()
        ))
        assert all(isinstance(o, OrderOutcome) and not o.created and o.lines[0].reserved == 1 for o in again)
        reserved_in_store = 0
        for v in fx.variants:
            reserved_in_store += sum(r for _, r in (await stock_rows(url, v)).values())
        assert reserved_in_store >= len(acknowledged)
    assert await ledger_fold_holds(url)
    assert await reserve_entries_per_order(url) == 1
