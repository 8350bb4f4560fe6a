"""The shard's store on SQLite and on PostgreSQL: group commit, reload, replay, constraints, check."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from actors.shard import ShardCore
from inventory.commands import (
    CancelOrder,
    Command,
    FulfilOrder,
    LineRequest,
    OrderPartState,
    PlaceOrder,
    Receive,
    Transfer,
    VariantStock,
)
from inventory.desk import order_id_for
from store.check import check_ledger
from store.engine import make_engine
from store.schema import ledger, order_lines
from tests.conftest import sqlite_database
from tests.integration.conftest import Fixture, ledger_fold_holds, small_catalog, table_count


def order(fx: Fixture, external_id: str, variant: int, quantity: int, policy: str = "reject") -> PlaceOrder:
    return PlaceOrder(order_id_for("direct", external_id), "direct", external_id, policy,  # type: ignore[arg-type]
                      (fx.east, fx.west), (LineRequest(1, variant, quantity),), 1.0, "sig")


async def test_a_batch_is_committed_whole_and_a_new_shard_reloads_the_same_state(database_url: str) -> None:
    fx = await small_catalog(database_url)
    v = fx.variants[0]
    core = ShardCore(0, 1, database_url)
    await core.start()
    await core.apply([Receive("r1", v, fx.east, 6), Receive("r2", v, fx.west, 4),
                      order(fx, "o1", v, 8, "backorder"), order(fx, "o2", v, 5, "backorder")])
    before = core.book.stock_of(v)
    await core.stop()

    reloaded = ShardCore(0, 1, database_url)
    await reloaded.start()
    assert reloaded.book.stock_of(v) == before == VariantStock(v, {fx.east: (6, 6), fx.west: (4, 4)}, 3)
    assert set(reloaded.book.parts) == {order_id_for("direct", "o1"), order_id_for("direct", "o2")}
    await reloaded.stop()
    assert await ledger_fold_holds(database_url)


async def test_commands_replayed_after_a_restart_are_answered_from_the_record(database_url: str) -> None:
    fx = await small_catalog(database_url)
    v = fx.variants[1]
    batch: list[Command] = [Receive("r-1", v, fx.east, 10), order(fx, "o-1", v, 3),
                            Transfer("t-1", v, fx.east, fx.west, 2)]
    first = ShardCore(0, 1, database_url)
    answers = await first.apply(batch)
    ledger_rows = await table_count(database_url, ledger)
    await first.stop()

    second = ShardCore(0, 1, database_url)  # as Ray would after a crash: the same batch again
    again = await second.apply(batch)
    await second.stop()
    assert again[0] == answers[0] and again[2] == answers[2]
    assert isinstance(again[1], OrderPartState) and not again[1].created
    assert await table_count(database_url, ledger) == ledger_rows
    assert await ledger_fold_holds(database_url)


async def test_the_ledger_folds_to_the_stock_rows_after_mixed_work(database_url: str) -> None:
    fx = await small_catalog(database_url)
    core = ShardCore(0, 1, database_url)
    for i, v in enumerate(fx.variants):
        await core.apply([Receive(f"r{i}", v, fx.east, 5), Receive(f"s{i}", v, fx.west, 3)])
        await core.apply([order(fx, f"a{i}", v, 6, "backorder"), order(fx, f"b{i}", v, 4, "backorder")])
        await core.apply([FulfilOrder(order_id_for("direct", f"a{i}")),
                          CancelOrder(order_id_for("direct", f"b{i}")), Receive(f"t{i}", v, fx.west, 2)])
    await core.stop()
    assert await ledger_fold_holds(database_url)


async def five_on_hand(url: str) -> None:
    """The first variant with five units at WH-EAST, written by a shard that has stopped."""
    fx = await small_catalog(url)
    core = ShardCore(0, 1, url)
    await core.apply([Receive("r", fx.variants[0], fx.east, 5)])
    await core.stop()


async def test_the_ledger_check_finds_a_stock_row_changed_behind_its_back(database_url: str) -> None:
    await five_on_hand(database_url)
    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE inventory SET on_hand = on_hand + 1"))
        mismatches = await check_ledger(engine)
    finally:
        await engine.dispose()
    assert [(m.what, m.stock_row, m.expected) for m in mismatches] == [("on_hand vs ledger", 6, 5)]


@pytest.mark.parametrize("update", [
    "UPDATE inventory SET reserved = on_hand + 1",
    "UPDATE inventory SET on_hand = -1, reserved = 0",
    "UPDATE inventory SET reserved = -1",
])
async def test_the_store_itself_forbids_negative_stock_and_reserving_more_than_is_on_hand(
    database_url: str, update: str
) -> None:
    await five_on_hand(database_url)
    engine = make_engine(database_url)
    try:
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text(update))
    finally:
        await engine.dispose()


async def test_a_failed_group_commit_acknowledges_nothing_and_keeps_memory_equal_to_the_store(
    database_url: str,
) -> None:
    fx = await small_catalog(database_url)
    v = fx.variants[2]
    core = ShardCore(0, 1, database_url)
    await core.apply([Receive("r", v, fx.east, 5)])
    unknown_location = 999_999  # the foreign key refuses it, so the whole batch must roll back
    with pytest.raises(IntegrityError):
        await core.apply([order(fx, "kept-out", v, 2), Receive("bad", v, unknown_location, 1)])
    assert core.book.stock_of(v) == VariantStock(v, {fx.east: (5, 0)}, 0)
    assert await table_count(database_url, order_lines) == 0
    await core.stop()


async def test_the_first_shard_moves_the_write_ahead_log_into_the_database_file(tmp_path: Path) -> None:
    url = await sqlite_database(tmp_path)
    fx = await small_catalog(url)
    core = ShardCore(0, 1, url)
    for i in range(30):
        await core.apply([Receive(f"r{i}-{v}", v, fx.east, 1) for v in fx.variants])
        await asyncio.sleep(0.05)
    checkpointer = core.db._checkpointer
    assert checkpointer is not None and checkpointer.checkpoints > 0  # it ran while the shard worked
    await core.stop()
    wal = tmp_path / "threadcount.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated at stop
    assert await ledger_fold_holds(url)
