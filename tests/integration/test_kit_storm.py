"""A storm of kit and component orders on real Ray shards, with the kits' components on different
shards and one shard's process SIGKILLed mid-storm: no component oversold, no kit half reserved, every
acknowledged order there exactly once, and the ledger equal to the stock."""

from __future__ import annotations

import asyncio
import functools
import os
import random
import signal
from pathlib import Path
from typing import Any

import pytest

from actors.router import ShardRouter
from inventory.commands import LineStatus, Receive
from inventory.desk import Channel, OrderOutcome, ShardUnavailable, StockDesk
from inventory.kits import Kit
from inventory.partition import shard_of
from store.engine import make_engine
from store.kits import add_kit, load_kits, record_plan
from store.queries import find_orders
from tests.conftest import store_database
from tests.integration.conftest import Fixture, Shards, ledger_fold_holds, small_catalog, stock_rows

CLIENTS, ORDERS_EACH = 24, 12
Placed = dict[str, tuple[list[tuple[int, int]], OrderOutcome]]  # external id -> (lines, first answer)


async def kits_over_two_shards(url: str, fx: Fixture) -> tuple[dict[int, Kit], list[int]]:
    on = {shard: [v for v in fx.variants if shard_of(v, 2) == shard] for shard in (0, 1)}
    x, z, y = on[0][0], on[0][1], on[1][0]
    sku = {v: f"SHEET-{fx.variants.index(v)}" for v in (x, y, z)}
    engine = make_engine(url)
    try:
        await add_kit(engine, "SET-Q", "Queen set", [(sku[x], 1), (sku[y], 2)])
        await add_kit(engine, "SET-K", "King set", [(sku[y], 1), (sku[z], 1)])
        return await load_kits(engine), [x, y, z]
    finally:
        await engine.dispose()


async def storm(desk: StockDesk, channel: Channel, kits: dict[int, Kit], items: list[int], kill: Any
                ) -> Placed:
    """Clients place random orders of kits and components; `kill` runs beside them, given the
    orders acknowledged so far."""
    acknowledged: Placed = {}
    choices = [*kits, *items]

    async def client(n: int) -> None:
        rng = random.Random(n)
        for i in range(ORDERS_EACH):
            lines = [(rng.choice(choices), rng.randint(1, 3)) for _ in range(rng.randint(1, 2))]
            while True:  # a client retries the same order until it is answered
                try:
                    outcome = await desk.place_order(channel, f"c{n}-{i}", lines, "storm", kits)
                    break
                except ShardUnavailable:
                    await asyncio.sleep(0.2)
            assert isinstance(outcome, OrderOutcome), outcome
            acknowledged[f"c{n}-{i}"] = (lines, outcome)

    await asyncio.gather(*(client(n) for n in range(CLIENTS)), kill(acknowledged))
    return acknowledged


def assert_whole(outcome: OrderOutcome) -> None:
    """Reject policy: every component line fully reserved, or every one rejected."""
    states = {line.state for line in outcome.lines}
    assert states in ({LineStatus.OPEN}, {LineStatus.REJECTED}), outcome
    for line in outcome.lines:
        assert line.reserved == (line.quantity if line.state == LineStatus.OPEN else 0)


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
async def test_a_storm_of_kit_and_component_orders_with_a_shard_killed_oversells_nothing(
    ray_session: Any, tmp_path: Path, store: str
) -> None:
    async with store_database(store, tmp_path) as url:
        fx = await small_catalog(url)
        kits, items = await kits_over_two_shards(url, fx)
        direct = Channel("direct", "reject", (fx.east, fx.west))
        engine = make_engine(url)
        try:
            async with Shards(ray_session, url) as shards:
                desk = StockDesk(ShardRouter.for_actors(shards.actors),
                                 kit_plans=functools.partial(record_plan, engine))
                received = {items[0]: 40, items[1]: 70, items[2]: 30}
                for v, units in received.items():
                    await desk.stock_command(Receive(f"r{v}e", v, fx.east, units - 10))
                    await desk.stock_command(Receive(f"r{v}w", v, fx.west, 10))
                pid = await shards.actors[0].pid.remote()

                async def kill(acknowledged: Placed) -> None:
                    while len(acknowledged) < CLIENTS * ORDERS_EACH // 4:
                        await asyncio.sleep(0.01)
                    os.kill(pid, signal.SIGKILL)  # Ray restarts the shard and retries its calls
                    killed_at.append(len(acknowledged))

                killed_at: list[int] = []
                placed = await storm(desk, direct, kits, items, kill)
                acknowledged = {ext: outcome for ext, (_, outcome) in placed.items()}
                assert await shards.actors[0].pid.remote() != pid
                assert killed_at[0] < len(acknowledged) * 3 // 4  # mid-storm
                for outcome in acknowledged.values():
                    assert_whole(outcome)
                taken = {v: sum(line.reserved for o in acknowledged.values() for line in o.lines
                                if line.variant_id == v) for v in items}
                for v in items:
                    levels = await stock_rows(url, v)
                    assert sum(reserved for _, reserved in levels.values()) == taken[v] <= received[v]
                    assert all(0 <= reserved <= on_hand for on_hand, reserved in levels.values())
                assert any(o.kit_lines and o.lines[0].state == LineStatus.OPEN for o in acknowledged.values())
                assert any(o.lines[0].state == LineStatus.REJECTED for o in acknowledged.values())

                for ext, (lines, first) in list(placed.items())[:40]:  # retries after the storm: replays
                    again = await desk.place_order(direct, ext, lines, "storm", kits)
                    assert isinstance(again, OrderOutcome) and not again.created
                    assert (again.lines, again.kit_lines) == (first.lines, first.kit_lines)
                stored = await find_orders(engine, "direct", None, 1000)
                assert len(stored) == len(acknowledged)
                assert sum(1 for order in stored if order.kit_lines) == \
                    sum(1 for o in acknowledged.values() if o.kit_lines)
                await desk.router.close()
        finally:
            await engine.dispose()
        assert await ledger_fold_holds(url)

