"""StockDesk keeps an order whole across shards, over real StockBooks behind a fake `send` instead of
Ray."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from inventory.allocation import order_status
from inventory.book import StockBook
from inventory.commands import (
    AbortOrder,
    Adjust,
    Command,
    Failure,
    PlaceOrder,
    Receive,
    Result,
    VariantStock,
)
from inventory.desk import Channel, OrderOutcome, StockDesk, order_id_for
from inventory.model import Changes, LedgerEntry
from inventory.partition import shard_of
from tests.unit.test_router import router_for

# -- StockDesk over real books -------------------------------------------------------------------

EAST, WEST = 1, 2
SHOP = Channel("shop", "reject", (EAST, WEST))
WHOLESALE = Channel("wholesale", "backorder", (EAST, WEST))


def variants_on(shard: int, shard_count: int = 2, how_many: int = 2) -> list[int]:
    return [v for v in range(1, 100) if shard_of(v, shard_count) == shard][:how_many]


A, A2 = variants_on(0)
B, B2 = variants_on(1)


class Shards:
    """One StockBook per shard, applied the way a StockShard does: the store's order signatures are
    recalled before a batch, and the batch is 'committed' after `commit_delay`."""

    def __init__(self, count: int = 2, commit_delay: float = 0.0):
        self.books = [StockBook() for _ in range(count)]
        self.store_signatures: dict[str, tuple[str, int]] = {}
        self.ledger: list[LedgerEntry] = []
        self.commit_delay = commit_delay

    async def send(self, index: int, commands: list[Command]) -> list[Result]:
        book = self.books[index]
        asked = {c.order_id for c in commands if isinstance(c, PlaceOrder)}
        recalled = asked - set(book.parts)
        book.stored_orders = {oid: sig for oid, sig in self.store_signatures.items() if oid in recalled}
        changes = Changes()
        results = [book.apply(command, changes) for command in commands]
        await asyncio.sleep(self.commit_delay)
        for part in changes.new_parts.values():
            self.store_signatures.setdefault(part.order_id, (part.signature, part.seq))
        self.ledger.extend(changes.ledger)
        return results

    def level(self, variant: int, location: int = EAST) -> tuple[int, int]:
        level = self.books[shard_of(variant, len(self.books))].level(variant, location)
        return level.on_hand, level.reserved


@asynccontextmanager
async def desk_over(shards: Shards, **stock: int) -> AsyncIterator[StockDesk]:
    """A desk whose shards hold `stock` at EAST: desk_over(shards, A=5, B=1)."""
    async with router_for(shards.send, len(shards.books)) as router:
        desk = StockDesk(router)
        names = {"A": A, "A2": A2, "B": B, "B2": B2}
        for n, (name, quantity) in enumerate(stock.items()):
            result = await desk.stock_command(Receive(f"seed-{n}", names[name], EAST, quantity))
            assert isinstance(result, VariantStock)
        yield desk


def outcome(result: OrderOutcome | Failure) -> OrderOutcome:
    assert isinstance(result, OrderOutcome), result
    return result


def test_the_test_variants_hash_to_different_shards() -> None:
    assert (shard_of(A, 2), shard_of(A2, 2), shard_of(B, 2), shard_of(B2, 2)) == (0, 0, 1, 1)


def test_an_order_id_is_derived_from_the_channel_and_the_external_id() -> None:
    assert order_id_for("shop", "1001") == order_id_for("shop", "1001")
    assert order_id_for("shop", "1001") != order_id_for("etsy", "1001")
    assert order_id_for("shop", "1001").startswith("ord_")


async def test_a_stock_command_goes_to_the_shard_that_owns_the_variant() -> None:
    shards = Shards()
    async with desk_over(shards) as desk:
        await desk.stock_command(Receive("r1", B, WEST, 4))
        result = await desk.stock_command(Adjust("a1", B, WEST, "found", delta=1))
    assert result == VariantStock(B, {WEST: (5, 0)}, 0)
    assert B in shards.books[1].levels
    assert B not in shards.books[0].levels


async def test_an_order_whose_lines_fit_is_reserved_on_every_shard() -> None:
    shards = Shards()
    async with desk_over(shards, A=5, B=5) as desk:
        placed = outcome(await desk.place_order(SHOP, "1001", [(A, 2), (B, 3)]))
    assert placed.created
    assert placed.order_id == order_id_for("shop", "1001")
    assert [(line.line_no, line.variant_id, line.reserved) for line in placed.lines] == [(1, A, 2), (2, B, 3)]
    assert order_status(placed.lines) == "reserved"
    assert (shards.level(A), shards.level(B)) == ((5, 2), (5, 3))


async def test_a_rejected_part_rejects_the_whole_order_and_releases_the_other_shards_reservation() -> None:
    shards = Shards()
    async with desk_over(shards, A=5, B=1) as desk:
        placed = outcome(await desk.place_order(SHOP, "1002", [(A, 2), (B, 3)]))
    assert placed.created, "made by this call (201), though the lead's part was aborted after"
    assert [line.state for line in placed.lines] == ["rejected", "rejected"]
    assert all(line.reserved == 0 for line in placed.lines)
    assert order_status(placed.lines) == "rejected"
    assert (shards.level(A), shards.level(B)) == ((5, 0), (1, 0))
    moves = [(e.kind, e.delta_reserved) for e in shards.ledger if e.variant_id == A and e.kind != "receipt"]
    assert moves == [("reserve", 2), ("release", -2)]


async def test_placing_a_rejected_order_again_aborts_nothing_new_and_stays_rejected() -> None:
    shards = Shards()
    async with desk_over(shards, A=5, B=1) as desk:
        await desk.place_order(SHOP, "1002", [(A, 2), (B, 3)])
        ledger_before = len(shards.ledger)
        again = outcome(await desk.place_order(SHOP, "1002", [(A, 2), (B, 3)]))
    assert not again.created
    assert order_status(again.lines) == "rejected"
    assert len(shards.ledger) == ledger_before
    assert shards.level(A) == (5, 0)


async def test_a_backorder_channel_keeps_the_other_shards_reservation() -> None:
    shards = Shards()
    async with desk_over(shards, A=5, B=1) as desk:
        placed = outcome(await desk.place_order(WHOLESALE, "po-7", [(A, 2), (B, 3)]))
    assert [(line.reserved, line.backordered) for line in placed.lines] == [(2, 0), (1, 2)]
    assert order_status(placed.lines) == "partially_backordered"
    assert (shards.level(A), shards.level(B)) == ((5, 2), (1, 1))


async def test_placing_the_same_order_twice_returns_created_false_and_changes_nothing() -> None:
    shards = Shards()
    async with desk_over(shards, A=5, B=5) as desk:
        first = outcome(await desk.place_order(SHOP, "1003", [(A, 2), (B, 1)]))
        ledger_before = len(shards.ledger)
        again = outcome(await desk.place_order(SHOP, "1003", [(A, 2), (B, 1)]))
    assert first.created and not again.created
    assert again.lines == first.lines
    assert len(shards.ledger) == ledger_before


@pytest.mark.parametrize("other_lines", [
    [(A, 3), (B, 1)],  # same shards, other quantity
    [(A, 2)],  # a subset: only one shard is asked
    [(A2, 1)],  # a variant with no part yet on the shard that knows the order
    [(B2, 1)],  # a variant on the other shard only: known to it through the store
])
async def test_an_external_id_reused_with_other_lines_is_refused(other_lines: list[tuple[int, int]]) -> None:
    shards = Shards()
    async with desk_over(shards, A=5, A2=5, B=5, B2=5) as desk:
        outcome(await desk.place_order(SHOP, "1004", [(A, 2), (B, 1)]))
        ledger_before = len(shards.ledger)
        refused = await desk.place_order(SHOP, "1004", other_lines)
    assert isinstance(refused, Failure)
    assert refused.code == "external_id_reused"
    assert len(shards.ledger) == ledger_before
    assert (shards.level(A2), shards.level(B2)) == ((5, 0), (5, 0))


async def test_an_order_is_fulfilled_and_cancelled_across_its_shards() -> None:
    shards = Shards()
    async with desk_over(shards, A=5, B=5) as desk:
        one = outcome(await desk.place_order(SHOP, "1005", [(A, 2), (B, 1)]))
        two = outcome(await desk.place_order(SHOP, "1006", [(A, 1), (B, 1)]))
        fulfilled = outcome(await desk.fulfil(one.order_id, [A, B]))
        cancelled = outcome(await desk.cancel(two.order_id, [A, B]))
        refused = await desk.cancel(one.order_id, [A, B])
    assert order_status(fulfilled.lines) == "fulfilled"
    assert order_status(cancelled.lines) == "cancelled"
    assert isinstance(refused, Failure) and refused.code == "order_fulfilled"
    assert (shards.level(A), shards.level(B)) == ((3, 0), (4, 0))


async def test_abort_releases_an_order_on_every_shard() -> None:
    shards = Shards()
    async with desk_over(shards, A=5, B=5) as desk:
        placed = outcome(await desk.place_order(SHOP, "1007", [(A, 2), (B, 1)]))
        aborted = outcome(await desk.abort(placed.order_id, [A, B]))
    assert order_status(aborted.lines) == "rejected"
    assert (shards.level(A), shards.level(B)) == ((5, 0), (5, 0))


async def test_a_transition_of_an_unknown_order_is_not_found() -> None:
    shards = Shards()
    async with desk_over(shards) as desk:
        result = await desk.fulfil("ord_nope", [A, B])
    assert isinstance(result, Failure) and result.code == "not_found"


async def test_fulfil_of_an_order_backordered_on_one_shard_changes_nothing_on_the_others() -> None:
    shards = Shards()
    async with desk_over(shards, A=5) as desk:
        placed = outcome(await desk.place_order(WHOLESALE, "po-8", [(A, 2), (B, 1)]))
        assert order_status(placed.lines) == "partially_backordered"
        refused = await desk.fulfil(placed.order_id, [A, B])
        assert isinstance(refused, Failure) and refused.code == "order_backordered"
        assert shards.level(A) == (5, 2)


async def test_a_refused_reuse_of_an_external_id_leaves_no_reservation_behind() -> None:
    shards = Shards(commit_delay=0.01)  # both shards' batches start before either has committed
    async with desk_over(shards, A=5, B=5) as desk:
        first, second = await asyncio.gather(
            desk.place_order(SHOP, "1008", [(A, 1)]),
            desk.place_order(SHOP, "1008", [(A, 2), (B, 1)]),
        )
        assert isinstance(first, OrderOutcome) and first.created
        assert isinstance(second, Failure) and second.code == "external_id_reused"
        assert shards.level(B) == (5, 0)


async def test_the_desk_sends_abort_only_to_shards_with_open_lines() -> None:
    sent: list[tuple[int, Command]] = []
    shards = Shards()

    async def spying_send(index: int, commands: list[Command]) -> list[Result]:
        sent.extend((index, c) for c in commands)
        return await shards.send(index, commands)

    async with router_for(spying_send) as router:
        desk = StockDesk(router)
        await desk.stock_command(Receive("r", A, EAST, 5))
        await desk.place_order(SHOP, "1009", [(A, 1), (B, 1)])
    assert [i for i, c in sent if isinstance(c, AbortOrder)] == [0]
