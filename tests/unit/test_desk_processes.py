"""Two desks over the same shards, as two web worker processes are: the same order placed by both
at once (a duplicate delivery reaching each worker) is made once, its parts share one storage key,
and only one caller is told it made the order. Real StockBooks behind a fake `send` whose delays
make the two desks reach the shards in opposite orders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from inventory.commands import Command, PlaceOrder, Receive, Result, VariantStock
from inventory.desk import OrderOutcome, ShardUnavailable, StockDesk
from tests.unit.test_desk import EAST, SHOP, A, B, Shards, outcome
from tests.unit.test_router import router_for


def late_to(shards: Shards, shard: int, delay: float):  # type: ignore[no-untyped-def]
    """A `send` that reaches `shard` `delay` seconds late (before the book applies the batch)."""
    async def send(index: int, commands: list[Command]) -> list[Result]:
        if index == shard:
            await asyncio.sleep(delay)
        return await shards.send(index, commands)
    return send


@asynccontextmanager
async def two_desks(shards: Shards, delay: float = 0.02) -> AsyncIterator[tuple[StockDesk, StockDesk]]:
    """The first desk reaches shard 1 late, the second reaches shard 0 late."""
    async with AsyncExitStack() as stack:
        first = StockDesk(await stack.enter_async_context(router_for(late_to(shards, 1, delay))))
        second = StockDesk(await stack.enter_async_context(router_for(late_to(shards, 0, delay))))
        yield first, second


async def seed(desk: StockDesk, **stock: int) -> None:
    for n, (variant, quantity) in enumerate(((A, stock["A"]), (B, stock["B"]))):
        assert isinstance(await desk.stock_command(Receive(f"seed-{n}", variant, EAST, quantity)), VariantStock)


async def test_an_order_placed_by_two_processes_at_once_is_made_once_and_only_one_is_told_it_made_it() -> None:
    shards = Shards()
    async with two_desks(shards) as (first, second):
        await seed(first, A=50, B=50)
        answers: list[OrderOutcome] = []
        for n in range(10):
            lines = [(A, 1), (B, 2)]
            got = await asyncio.gather(first.place_order(SHOP, f"dup-{n}", lines),
                                       second.place_order(SHOP, f"dup-{n}", lines))
            answers += [outcome(g) for g in got]
    made = [a for a in answers if a.created]
    assert len(made) == 10, [a.created for a in answers]
    assert (shards.level(A), shards.level(B)) == ((50, 10), (50, 20))


async def test_every_part_of_an_order_placed_by_two_processes_hangs_off_the_leads_storage_key() -> None:
    shards = Shards()
    async with two_desks(shards) as (first, second):
        await seed(first, A=50, B=50)
        for n in range(10):
            lines = [(A, 1), (B, 1)]
            await asyncio.gather(first.place_order(SHOP, f"key-{n}", lines),
                                 second.place_order(SHOP, f"key-{n}", lines))
    for order_id, part in shards.books[0].parts.items():
        assert shards.books[1].parts[order_id].seq == part.seq != 0


async def test_a_short_order_placed_by_two_processes_at_once_is_rejected_for_both_and_holds_nothing() -> None:
    shards = Shards()
    async with two_desks(shards) as (first, second):
        await seed(first, A=5, B=1)
        got = await asyncio.gather(first.place_order(SHOP, "short", [(A, 2), (B, 3)]),
                                   second.place_order(SHOP, "short", [(A, 2), (B, 3)]))
    assert all(line.state == "rejected" for g in got for line in outcome(g).lines)
    assert (shards.level(A), shards.level(B)) == ((5, 0), (1, 0))


async def test_an_order_on_one_shard_is_placed_in_one_call_and_the_shard_picks_its_key() -> None:
    sent: list[list[Command]] = []
    shards = Shards()

    async def send(index: int, commands: list[Command]) -> list[Result]:
        sent.append(commands)
        return await shards.send(index, commands)

    async with router_for(send) as router:
        desk = StockDesk(router)
        await seed(desk, A=5, B=5)
        sent.clear()
        placed = outcome(await desk.place_order(SHOP, "one", [(A, 1)]))
    assert placed.created
    assert [type(c) for batch in sent for c in batch] == [PlaceOrder]
    assert sent[0][0].seq == 0  # type: ignore[attr-defined]
    assert shards.books[0].parts[placed.order_id].seq != 0


async def test_an_order_not_settled_within_the_desks_deadline_is_answered_as_unavailable_and_a_retry_places_it(
) -> None:
    shards = Shards()
    stalled = asyncio.Event()

    async def send(index: int, commands: list[Command]) -> list[Result]:
        if index == 1 and not stalled.is_set():
            await asyncio.sleep(0.5)  # a shard caught in a failover: it answers, late
        return await shards.send(index, commands)

    async with router_for(send) as router:
        desk = StockDesk(router, deadline=0.2)
        stalled.set()
        await seed(desk, A=5, B=5)
        stalled.clear()
        began = asyncio.get_running_loop().time()
        with pytest.raises(ShardUnavailable):
            await desk.place_order(SHOP, "late", [(A, 1), (B, 1)])
        assert asyncio.get_running_loop().time() - began < 0.45
        stalled.set()
        await asyncio.sleep(0.5)  # the late call has applied the part meanwhile: the retry replays it
        again = outcome(await desk.place_order(SHOP, "late", [(A, 1), (B, 1)]))
    assert [line.state for line in again.lines] == ["open", "open"]
    assert (shards.level(A), shards.level(B)) == ((5, 1), (5, 1))


async def test_a_duplicate_that_gives_up_waiting_does_not_break_the_order_it_waited_for() -> None:
    shards = Shards()
    slow = asyncio.Event()

    async def send(index: int, commands: list[Command]) -> list[Result]:
        if slow.is_set():
            await asyncio.sleep(0.3)
        return await shards.send(index, commands)

    async with router_for(send) as router:
        desk = StockDesk(router, deadline=5)
        await seed(desk, A=5, B=5)
        slow.set()
        first = asyncio.ensure_future(desk.place_order(SHOP, "waited", [(A, 1)]))
        await asyncio.sleep(0.05)
        duplicate = asyncio.ensure_future(desk.place_order(SHOP, "waited", [(A, 1)]))
        await asyncio.sleep(0.05)
        duplicate.cancel()  # as its own deadline would
        placed = outcome(await first)
    assert placed.created and duplicate.cancelled()
