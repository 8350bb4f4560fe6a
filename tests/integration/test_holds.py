"""Holds over real shard actors and a real database: expiry on time and exactly once, release, expiry
and conversion racing for one hold, all or nothing across shards, a killed shard, and a keeper started
after its holds expired (the service's restart)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.commands import Failure, Receive
from inventory.desk import Channel, OrderOutcome, StockDesk
from inventory.holds import HoldStatus
from inventory.partition import shard_of
from service import holds
from service.hold_keeper import HoldKeeper
from store import holds as stored_holds
from store.engine import make_engine, reader
from store.holds import StoredHold
from store.schema import ledger
from tests.conftest import sqlite_database
from tests.integration.conftest import (
    Fixture,
    Shards,
    connection,
    ledger_fold_holds,
    small_catalog,
    stock_rows,
)


class HoldRuntime:
    """What the hold use cases ask of the service's Runtime, over the test's shards."""

    def __init__(self, url: str, desk: StockDesk, fx: Fixture):
        self.engine: AsyncEngine = make_engine(url)
        self.read_engine = reader(self.engine)
        self.desk, self.fx = desk, fx
        self.hold_keeper = HoldKeeper(cast(Any, self))

    def channel(self, name: str) -> Channel:
        return Channel(name, "reject", (self.fx.east, self.fx.west))

    default_channel = channel

    async def close(self) -> None:
        await self.hold_keeper.stop()
        await self.engine.dispose()


async def setting(ray: Any, tmp_path: Path) -> tuple[Shards, HoldRuntime, Fixture]:
    url = await sqlite_database(tmp_path)
    fx = await small_catalog(url)
    engine = await Shards(ray, url).__aenter__()
    for v in fx.variants:
        await engine.desk.stock_command(Receive(f"r{v}", v, fx.east, 5))
        await engine.desk.stock_command(Receive(f"w{v}", v, fx.west, 5))
    rt = HoldRuntime(url, engine.desk, fx)
    await rt.hold_keeper.start()
    return engine, rt, fx


async def reserved(url: str, variant: int) -> int:
    return sum(r for _, r in (await stock_rows(url, variant)).values())


async def release_entries(url: str, hold_id: str) -> int:
    async with connection(url) as conn:
        rows = (await conn.execute(select(ledger.c.id).where(
            ledger.c.reference == hold_id, ledger.c.kind == "release"))).all()
    return len(rows)


async def make(rt: HoldRuntime, lines: list[tuple[int, int]], ttl_s: int = 60) -> StoredHold:
    hold = await holds.create(cast(Any, rt), rt.channel("direct"), lines, ttl_s, "tester")
    assert isinstance(hold, StoredHold), hold
    return hold


async def test_a_hold_expires_within_a_second_of_expires_at_and_gives_its_units_back_once(
        ray_session: Any, tmp_path: Path) -> None:
    engine, rt, fx = await setting(ray_session, tmp_path)
    v = fx.variants[0]
    try:
        hold = await make(rt, [(v, 7)], ttl_s=2)   # 5 at East and 2 at West
        assert await reserved(fx.url, v) == 7
        while await reserved(fx.url, v) and time.time() < hold.expires_at + 10:
            await asyncio.sleep(0.02)
        late = time.time() - hold.expires_at
        print(f"\nunits released {late * 1000:.0f} ms after expires_at")
        assert await reserved(fx.url, v) == 0 and late < 1.0
        now = await stored_holds.get(rt.read_engine, hold.id)
        assert now is not None and now.status == HoldStatus.EXPIRED
        await asyncio.sleep(0.3)
        assert await release_entries(fx.url, hold.id) == 2   # one per location, once
    finally:
        await rt.close()
        await engine.__aexit__()
    assert await ledger_fold_holds(fx.url)


async def test_release_expiry_and_conversion_racing_for_one_hold_end_it_exactly_once(
        ray_session: Any, tmp_path: Path) -> None:
    engine, rt, fx = await setting(ray_session, tmp_path)
    direct = rt.channel("direct")
    try:
        made = [await make(rt, [(v, 3)], ttl_s=1) for v in fx.variants[:6]]
        await asyncio.sleep(max(0.0, made[-1].expires_at - time.time() - 0.01))
        answers = await asyncio.gather(*(
            call for hold in made for call in (
                holds.release(cast(Any, rt), hold.id, "tester"),
                holds.convert(cast(Any, rt), hold.id, direct, f"cart-{hold.id}", hold.lines, "tester"))))
        await asyncio.sleep(1.0)
        for hold, (released, converted) in zip(made, zip(answers[::2], answers[1::2], strict=True), strict=True):
            end = await stored_holds.get(rt.read_engine, hold.id)
            assert end is not None and end.status != HoldStatus.HELD
            variant = hold.lines[0][0]
            if end.status == HoldStatus.CONVERTED:
                assert isinstance(converted, OrderOutcome) and converted.created
                assert isinstance(released, Failure) and released.code == "hold_not_held"
                assert await reserved(fx.url, variant) == 3 and await release_entries(fx.url, hold.id) == 1
            else:
                assert isinstance(converted, Failure) and converted.code == "hold_not_held"
                assert (end.status == HoldStatus.RELEASED) == isinstance(released, StoredHold)
                assert await reserved(fx.url, variant) == 0 and await release_entries(fx.url, hold.id) == 1
    finally:
        await rt.close()
        await engine.__aexit__()
    assert await ledger_fold_holds(fx.url)


async def test_a_hold_is_all_or_nothing_across_shards_and_converts_whole(ray_session: Any, tmp_path: Path) -> None:
    engine, rt, fx = await setting(ray_session, tmp_path)
    a = fx.variants[0]
    b = next(v for v in fx.variants if shard_of(v, 2) != shard_of(a, 2))
    direct = rt.channel("direct")
    try:
        short = await holds.create(cast(Any, rt), direct, [(a, 2), (b, 11)], 60, "tester")
        assert isinstance(short, Failure) and short.code == "insufficient_stock"
        assert await reserved(fx.url, a) == 0 and await reserved(fx.url, b) == 0
        hold = await make(rt, [(a, 2), (b, 6)])
        order = await holds.convert(cast(Any, rt), hold.id, direct, "cart-1", [(b, 6), (a, 2)], "tester")
        assert isinstance(order, OrderOutcome) and order.created
        assert [(line.variant_id, line.reserved) for line in order.lines] == [(b, 6), (a, 2)]
        assert await reserved(fx.url, a) == 2 and await reserved(fx.url, b) == 6
        again = await holds.convert(cast(Any, rt), hold.id, direct, "cart-1", [(b, 6), (a, 2)], "tester")
        assert isinstance(again, OrderOutcome) and not again.created and again.lines == order.lines
        other = await holds.convert(cast(Any, rt), hold.id, direct, "cart-2", [(b, 6), (a, 2)], "tester")
        assert isinstance(other, Failure) and other.code == "hold_not_held"
        assert await reserved(fx.url, a) == 2 and await reserved(fx.url, b) == 6
    finally:
        await rt.close()
        await engine.__aexit__()
    assert await ledger_fold_holds(fx.url)


async def test_a_hold_expiring_while_its_shard_is_killed_is_released_once_the_shard_is_back(
        ray_session: Any, tmp_path: Path) -> None:
    engine, rt, fx = await setting(ray_session, tmp_path)
    v = fx.variants[0]
    try:
        hold = await make(rt, [(v, 4)], ttl_s=1)
        ray_session.kill(engine.actors[shard_of(v, 2)], no_restart=False)   # Ray restarts it
        deadline = time.time() + 30
        while await reserved(fx.url, v) and time.time() < deadline:
            await asyncio.sleep(0.05)
        print(f"\nreleased {time.time() - hold.expires_at:.2f} s after expires_at, its shard killed")
        assert await reserved(fx.url, v) == 0 and await release_entries(fx.url, hold.id) == 1
    finally:
        await rt.close()
        await engine.__aexit__()
    assert await ledger_fold_holds(fx.url)


async def test_a_keeper_started_after_its_holds_expired_releases_them_at_start_and_finishes_a_half_done_release(
        ray_session: Any, tmp_path: Path) -> None:
    engine, rt, fx = await setting(ray_session, tmp_path)
    v, w = fx.variants[0], fx.variants[1]
    try:
        expired = await make(rt, [(v, 2)], ttl_s=1)
        half_done = await make(rt, [(w, 3)], ttl_s=60)
        await rt.hold_keeper.stop()   # the service is down from here
        # a crash came between a release's claim and the shards' part of it
        assert await stored_holds.claim(rt.engine, half_done.id, HoldStatus.RELEASED, time.time(), "tester")
        await asyncio.sleep(max(0.0, expired.expires_at - time.time() + 0.5))
        assert await reserved(fx.url, v) == 2 and await reserved(fx.url, w) == 3
        rt.hold_keeper = HoldKeeper(cast(Any, rt))
        await rt.hold_keeper.start()   # the service starts again
        assert await reserved(fx.url, w) == 0    # finished before the start returns
        deadline = time.time() + 5
        while await reserved(fx.url, v) and time.time() < deadline:
            await asyncio.sleep(0.02)
        assert await reserved(fx.url, v) == 0
        end = await stored_holds.get(rt.read_engine, expired.id)
        assert end is not None and end.status == HoldStatus.EXPIRED
        assert await release_entries(fx.url, expired.id) == 1 and await release_entries(fx.url, half_done.id) == 1
    finally:
        await rt.close()
        await engine.__aexit__()
    assert await ledger_fold_holds(fx.url)
