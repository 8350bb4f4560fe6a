"""StockBook: the stock rules of one shard, applied in memory (no Ray, no database)."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import pytest

from inventory.allocation import order_status
from inventory.book import StockBook
from inventory.commands import (
    AbortOrder,
    Adjust,
    CancelOrder,
    Command,
    Failure,
    FulfilOrder,
    LineRequest,
    LineStatus,
    OrderPartState,
    PlaceOrder,
    Policy,
    Receive,
    Result,
    Transfer,
    VariantStock,
)
from inventory.model import Changes

SHEET, PILLOW = 11, 12
EAST, WEST, SOHO = 1, 2, 3

_ids = itertools.count(1)


def run(book: StockBook, command: Command) -> tuple[Result, Changes]:
    changes = Changes()
    return book.apply(command, changes), changes


def receive(book: StockBook, variant: int, location: int, quantity: int) -> Changes:
    result, changes = run(book, Receive(f"rcv-{next(_ids)}", variant, location, quantity))
    assert isinstance(result, VariantStock)
    return changes


def place(book: StockBook, order_id: str, lines: Sequence[tuple[int, int]], *, policy: Policy = "backorder",
          locations: tuple[int, ...] = (EAST, WEST), placed_at: float | None = None,
          signature: str | None = None) -> tuple[Result, Changes]:
    requests = tuple(LineRequest(no, variant, qty) for no, (variant, qty) in enumerate(lines, start=1))
    command = PlaceOrder(
        order_id=order_id, channel="shop", external_id=order_id, policy=policy, locations=locations,
        lines=requests, placed_at=float(next(_ids)) if placed_at is None else placed_at,
        signature=repr(list(lines)) if signature is None else signature,
    )
    return run(book, command)


def placed(book: StockBook, order_id: str, lines: Sequence[tuple[int, int]],
           **options: Any) -> OrderPartState:
    result, _ = place(book, order_id, lines, **options)
    assert isinstance(result, OrderPartState), result
    return result


def levels(book: StockBook, variant: int) -> dict[int, tuple[int, int]]:
    return book.stock_of(variant).levels


def state(book: StockBook) -> tuple[object, ...]:
    """Everything observable, to show a command changed nothing."""
    stock = {v: book.stock_of(v) for v in book.levels}
    parts = {oid: part.snapshot(created=False) for oid, part in book.parts.items()}
    queues = {v: list(queue) for v, queue in book.backorders.items() if queue}
    return stock, parts, queues


def stocked_book(**stock: int) -> StockBook:
    """A book holding SHEET at the given locations: stocked_book(east=5, west=3)."""
    book = StockBook()
    names = {"east": EAST, "west": WEST, "soho": SOHO}
    for name, quantity in stock.items():
        receive(book, SHEET, names[name], quantity)
    return book


# -- receipts ------------------------------------------------------------------------------------


def test_a_receipt_creates_stock_and_a_ledger_entry() -> None:
    book = StockBook()
    changes = receive(book, SHEET, EAST, 7)
    assert levels(book, SHEET) == {EAST: (7, 0)}
    [entry] = changes.ledger
    assert (entry.variant_id, entry.location_id, entry.kind) == (SHEET, EAST, "receipt")
    assert (entry.delta_on_hand, entry.delta_reserved) == (7, 0)
    assert entry.command_id is not None
    assert changes.levels == {(SHEET, EAST)}


def test_receipts_at_one_location_add_up() -> None:
    book = stocked_book(east=4)
    receive(book, SHEET, EAST, 6)
    assert levels(book, SHEET) == {EAST: (10, 0)}


# -- allocation ----------------------------------------------------------------------------------


def test_an_order_is_taken_from_the_first_location_of_the_channel() -> None:
    book = stocked_book(east=5, west=5)
    part = placed(book, "o1", [(SHEET, 3)], locations=(EAST, WEST))
    assert part.created
    assert part.lines[0].allocations == {EAST: 3}
    assert levels(book, SHEET) == {EAST: (5, 3), WEST: (5, 0)}


def test_an_order_follows_its_channels_own_location_priority() -> None:
    book = stocked_book(east=5, west=5)
    part = placed(book, "o1", [(SHEET, 3)], locations=(WEST, EAST))
    assert part.lines[0].allocations == {WEST: 3}


def test_an_order_splits_across_locations_when_the_first_is_short() -> None:
    book = stocked_book(east=2, west=5)
    part = placed(book, "o1", [(SHEET, 4)], locations=(EAST, WEST))
    assert part.lines[0].allocations == {EAST: 2, WEST: 2}
    assert part.lines[0].backordered == 0
    assert levels(book, SHEET) == {EAST: (2, 2), WEST: (5, 2)}


def test_an_order_never_takes_stock_from_a_location_outside_its_channel() -> None:
    book = stocked_book(east=1, soho=10)
    part = placed(book, "o1", [(SHEET, 3)], locations=(EAST, WEST))
    assert part.lines[0].allocations == {EAST: 1}
    assert part.lines[0].backordered == 2
    assert levels(book, SHEET)[SOHO] == (10, 0)


def test_two_lines_of_one_variant_do_not_count_the_same_units_twice() -> None:
    book = stocked_book(east=3)
    part = placed(book, "o1", [(SHEET, 2), (SHEET, 2)], locations=(EAST,))
    assert [line.reserved for line in part.lines] == [2, 1]
    assert [line.backordered for line in part.lines] == [0, 1]
    assert levels(book, SHEET) == {EAST: (3, 3)}


def test_a_short_order_under_the_reject_policy_is_rejected_and_reserves_nothing() -> None:
    book = stocked_book(east=5)
    receive(book, PILLOW, EAST, 1)
    result, changes = place(book, "o1", [(SHEET, 2), (PILLOW, 3)], policy="reject", locations=(EAST,))
    assert isinstance(result, OrderPartState)
    assert result.created
    assert [line.state for line in result.lines] == ["rejected", "rejected"]
    assert all(line.reserved == 0 and line.backordered == 0 for line in result.lines)
    assert order_status(result.lines) == "rejected"
    assert levels(book, SHEET) == {EAST: (5, 0)}
    assert levels(book, PILLOW) == {EAST: (1, 0)}
    assert changes.ledger == []
    assert book.stock_of(PILLOW).backordered == 0
    assert list(changes.new_parts) == ["o1"]  # the rejection itself is recorded


def test_an_order_that_fits_under_the_reject_policy_is_reserved() -> None:
    book = stocked_book(east=5)
    part = placed(book, "o1", [(SHEET, 5)], policy="reject", locations=(EAST,))
    assert order_status(part.lines) == "reserved"
    assert levels(book, SHEET) == {EAST: (5, 5)}


def test_a_short_order_under_the_backorder_policy_reserves_what_it_can_and_backorders_the_rest() -> None:
    book = stocked_book(east=2)
    part = placed(book, "o1", [(SHEET, 5)], policy="backorder", locations=(EAST,))
    [line] = part.lines
    assert (line.allocations, line.backordered, line.state) == ({EAST: 2}, 3, LineStatus.OPEN)
    assert order_status(part.lines) == "partially_backordered"
    assert levels(book, SHEET) == {EAST: (2, 2)}  # backordered units are never counted as reserved
    assert book.stock_of(SHEET).backordered == 3


def test_an_order_for_a_variant_with_no_stock_anywhere_is_wholly_backordered() -> None:
    book = StockBook()
    part = placed(book, "o1", [(SHEET, 4)], policy="backorder")
    assert part.lines[0].backordered == 4
    assert order_status(part.lines) == "backordered"
    assert book.stock_of(SHEET).backordered == 4


# -- backorders ----------------------------------------------------------------------------------


def test_a_receipt_fills_backorders_oldest_first() -> None:
    book = StockBook()
    placed(book, "newer", [(SHEET, 2)], placed_at=200.0)
    placed(book, "older", [(SHEET, 2)], placed_at=100.0)
    changes = receive(book, SHEET, EAST, 3)
    older, newer = book.parts["older"].lines[0], book.parts["newer"].lines[0]
    assert (older.allocations, older.backordered) == ({EAST: 2}, 0)
    assert (newer.allocations, newer.backordered) == ({EAST: 1}, 1)
    assert levels(book, SHEET) == {EAST: (3, 3)}
    assert book.stock_of(SHEET).backordered == 1
    assert [e.kind for e in changes.ledger] == ["receipt", "reserve", "reserve"]
    assert {key[0] for key in changes.lines} == {book.parts["older"].seq, book.parts["newer"].seq}


def test_a_backorder_is_filled_only_from_its_orders_own_locations() -> None:
    book = StockBook()
    placed(book, "o1", [(SHEET, 2)], locations=(EAST,))
    receive(book, SHEET, WEST, 5)
    assert book.parts["o1"].lines[0].backordered == 2
    assert levels(book, SHEET)[WEST] == (5, 0)
    receive(book, SHEET, EAST, 1)
    assert book.parts["o1"].lines[0].backordered == 1


def test_an_old_backorder_that_cannot_be_filled_here_does_not_block_a_newer_one() -> None:
    book = StockBook()
    placed(book, "east-only", [(SHEET, 2)], locations=(EAST,), placed_at=1.0)
    placed(book, "west-ok", [(SHEET, 2)], locations=(WEST,), placed_at=2.0)
    receive(book, SHEET, WEST, 2)
    assert book.parts["east-only"].lines[0].backordered == 2
    assert book.parts["west-ok"].lines[0].backordered == 0


def test_a_fully_filled_backorder_makes_the_order_reserved() -> None:
    book = StockBook()
    placed(book, "o1", [(SHEET, 2)])
    receive(book, SHEET, WEST, 2)
    part = book.parts["o1"].snapshot(created=False)
    assert order_status(part.lines) == "reserved"
    assert book.backorders[SHEET] == []


def test_a_positive_adjustment_by_delta_fills_backorders() -> None:
    book = StockBook()
    placed(book, "o1", [(SHEET, 2)])
    run(book, Adjust("a1", SHEET, EAST, "found", delta=3))
    assert book.parts["o1"].lines[0].allocations == {EAST: 2}
    assert levels(book, SHEET) == {EAST: (3, 2)}


def test_a_positive_adjustment_by_count_fills_backorders() -> None:
    book = StockBook()
    placed(book, "o1", [(SHEET, 2)])
    run(book, Adjust("a1", SHEET, EAST, "count", counted=1))
    assert book.parts["o1"].lines[0].backordered == 1
    assert levels(book, SHEET) == {EAST: (1, 1)}


def test_a_transfer_in_fills_backorders_at_the_receiving_location() -> None:
    book = stocked_book(soho=5)
    placed(book, "o1", [(SHEET, 3)], locations=(EAST,))
    run(book, Transfer("t1", SHEET, SOHO, EAST, 4))
    line = book.parts["o1"].lines[0]
    assert (line.allocations, line.backordered) == ({EAST: 3}, 0)
    assert levels(book, SHEET) == {SOHO: (1, 0), EAST: (4, 3)}


def test_stock_released_by_a_cancel_fills_backorders() -> None:
    book = stocked_book(east=2)
    placed(book, "first", [(SHEET, 2)], placed_at=1.0)
    placed(book, "waiting", [(SHEET, 2)], placed_at=2.0)
    result, changes = run(book, CancelOrder("first"))
    assert isinstance(result, OrderPartState)
    line = book.parts["waiting"].lines[0]
    assert (line.allocations, line.backordered) == ({EAST: 2}, 0)
    assert levels(book, SHEET) == {EAST: (2, 2)}
    assert [e.kind for e in changes.ledger] == ["release", "reserve"]


# -- cancel, fulfil, abort -----------------------------------------------------------------------


def test_cancel_releases_reservations_and_drops_backorders() -> None:
    book = stocked_book(east=1, west=1)
    placed(book, "o1", [(SHEET, 5)])
    result, changes = run(book, CancelOrder("o1"))
    assert isinstance(result, OrderPartState)
    [line] = result.lines
    assert (line.state, line.allocations, line.backordered) == ("cancelled", {}, 0)
    assert order_status(result.lines) == "cancelled"
    assert levels(book, SHEET) == {EAST: (1, 0), WEST: (1, 0)}
    assert book.stock_of(SHEET).backordered == 0
    assert sorted((e.kind, e.location_id, e.delta_reserved) for e in changes.ledger) == [
        ("release", EAST, -1), ("release", WEST, -1)
    ]
    receive(book, SHEET, EAST, 5)  # a dropped backorder is never filled later
    assert levels(book, SHEET)[EAST] == (6, 0)


def test_cancelling_twice_is_harmless() -> None:
    book = stocked_book(east=3)
    placed(book, "o1", [(SHEET, 2)])
    run(book, CancelOrder("o1"))
    before = state(book)
    result, changes = run(book, CancelOrder("o1"))
    assert isinstance(result, OrderPartState)
    assert state(book) == before
    assert changes.ledger == []


def test_fulfil_lowers_on_hand_and_reserved_together() -> None:
    book = stocked_book(east=2, west=5)
    placed(book, "o1", [(SHEET, 4)])
    result, changes = run(book, FulfilOrder("o1"))
    assert isinstance(result, OrderPartState)
    assert order_status(result.lines) == "fulfilled"
    assert levels(book, SHEET) == {EAST: (0, 0), WEST: (3, 0)}
    assert sorted((e.kind, e.location_id, e.delta_on_hand, e.delta_reserved) for e in changes.ledger) == [
        ("fulfil", EAST, -2, -2), ("fulfil", WEST, -2, -2)
    ]


def test_fulfilling_twice_is_harmless() -> None:
    book = stocked_book(east=3)
    placed(book, "o1", [(SHEET, 2)])
    run(book, FulfilOrder("o1"))
    before = state(book)
    result, changes = run(book, FulfilOrder("o1"))
    assert isinstance(result, OrderPartState)
    assert order_status(result.lines) == "fulfilled"
    assert state(book) == before
    assert changes.ledger == []


def test_fulfil_of_a_backordered_order_is_refused_and_changes_nothing() -> None:
    book = stocked_book(east=1)
    placed(book, "o1", [(SHEET, 1), (PILLOW, 2)])
    before = state(book)
    result, changes = run(book, FulfilOrder("o1"))
    assert isinstance(result, Failure)
    assert result.code == "order_backordered"
    assert state(book) == before
    assert changes.empty


def test_cancel_after_fulfil_is_refused() -> None:
    book = stocked_book(east=3)
    placed(book, "o1", [(SHEET, 2)])
    run(book, FulfilOrder("o1"))
    before = state(book)
    result, changes = run(book, CancelOrder("o1"))
    assert isinstance(result, Failure)
    assert result.code == "order_fulfilled"
    assert state(book) == before
    assert changes.empty


def test_fulfil_after_cancel_is_refused() -> None:
    book = stocked_book(east=3)
    placed(book, "o1", [(SHEET, 2)])
    run(book, CancelOrder("o1"))
    result, _ = run(book, FulfilOrder("o1"))
    assert isinstance(result, Failure)
    assert result.code == "order_cancelled"


def test_a_rejected_order_cannot_be_cancelled_or_fulfilled() -> None:
    book = stocked_book(east=1)
    placed(book, "o1", [(SHEET, 2)], policy="reject")
    for command in (CancelOrder("o1"), FulfilOrder("o1")):
        result, _ = run(book, command)
        assert isinstance(result, Failure)
        assert result.code == "order_rejected"


@pytest.mark.parametrize("command", [FulfilOrder("nope"), CancelOrder("nope"), AbortOrder("nope")])
def test_a_transition_of_an_unknown_order_is_not_found(command: Command) -> None:
    result, changes = run(StockBook(), command)
    assert isinstance(result, Failure)
    assert result.code == "not_found"
    assert changes.empty


def test_abort_releases_the_reservation_and_marks_the_lines_rejected() -> None:
    book = stocked_book(east=3)
    receive(book, PILLOW, EAST, 1)
    placed(book, "o1", [(SHEET, 2), (PILLOW, 1)], policy="reject", locations=(EAST,))
    result, changes = run(book, AbortOrder("o1"))
    assert isinstance(result, OrderPartState)
    assert [(line.state, line.allocations) for line in result.lines] == [("rejected", {})] * 2
    assert order_status(result.lines) == "rejected"
    assert levels(book, SHEET) == {EAST: (3, 0)}
    assert levels(book, PILLOW) == {EAST: (1, 0)}
    assert sorted((e.kind, e.variant_id, e.delta_reserved) for e in changes.ledger) == [
        ("release", SHEET, -2), ("release", PILLOW, -1)
    ]


def test_abort_drops_backorders_and_its_released_stock_fills_others() -> None:
    book = stocked_book(east=1)
    placed(book, "o1", [(SHEET, 3)], placed_at=1.0)
    placed(book, "o2", [(SHEET, 1)], placed_at=2.0)
    run(book, AbortOrder("o1"))
    assert book.parts["o2"].lines[0].allocations == {EAST: 1}
    assert book.stock_of(SHEET).backordered == 0


# -- adjustments and transfers -------------------------------------------------------------------


def test_an_adjustment_by_delta_moves_on_hand_and_writes_its_reason() -> None:
    book = stocked_book(east=5)
    result, changes = run(book, Adjust("a1", SHEET, EAST, "damage", delta=-2, note="torn", actor="kim"))
    assert isinstance(result, VariantStock)
    assert result.levels == {EAST: (3, 0)}
    [entry] = changes.ledger
    assert (entry.kind, entry.delta_on_hand, entry.reason, entry.note, entry.actor, entry.command_id) == (
        "adjustment", -2, "damage", "torn", "kim", "a1"
    )


def test_an_adjustment_by_count_sets_on_hand_to_the_counted_quantity() -> None:
    book = stocked_book(east=5)
    result, changes = run(book, Adjust("a1", SHEET, EAST, "count", counted=8))
    assert isinstance(result, VariantStock)
    assert result.levels == {EAST: (8, 0)}
    assert [e.delta_on_hand for e in changes.ledger] == [3]
    result, changes = run(book, Adjust("a2", SHEET, EAST, "count", counted=0))
    assert levels(book, SHEET) == {EAST: (0, 0)}
    assert [e.delta_on_hand for e in changes.ledger] == [-8]


def test_a_count_that_matches_on_hand_writes_no_ledger_entry() -> None:
    book = stocked_book(east=5)
    result, changes = run(book, Adjust("a1", SHEET, EAST, "count", counted=5))
    assert isinstance(result, VariantStock)
    assert changes.ledger == []


@pytest.mark.parametrize("adjust", [
    Adjust("a1", SHEET, EAST, "loss", delta=-3),
    Adjust("a1", SHEET, EAST, "count", counted=2),
    Adjust("a1", SHEET, EAST, "loss", delta=-6),
])
def test_an_adjustment_that_would_leave_on_hand_below_reserved_is_refused(adjust: Adjust) -> None:
    book = stocked_book(east=5)
    placed(book, "o1", [(SHEET, 3)], locations=(EAST,))
    before = state(book)
    result, changes = run(book, adjust)
    assert isinstance(result, Failure)
    assert result.code == "below_reserved"
    assert state(book) == before
    assert changes.empty


def test_an_adjustment_down_to_exactly_the_reserved_quantity_is_allowed() -> None:
    book = stocked_book(east=5)
    placed(book, "o1", [(SHEET, 3)], locations=(EAST,))
    result, _ = run(book, Adjust("a1", SHEET, EAST, "loss", delta=-2))
    assert isinstance(result, VariantStock)
    assert result.levels == {EAST: (3, 3)}


def test_a_transfer_moves_stock_between_locations() -> None:
    book = stocked_book(east=5)
    result, changes = run(book, Transfer("t1", SHEET, EAST, WEST, 2, reference="truck-7"))
    assert isinstance(result, VariantStock)
    assert result.levels == {EAST: (3, 0), WEST: (2, 0)}
    assert [(e.kind, e.location_id, e.delta_on_hand, e.reference) for e in changes.ledger] == [
        ("transfer_out", EAST, -2, "truck-7"), ("transfer_in", WEST, 2, "truck-7")
    ]


def test_a_transfer_is_refused_when_the_source_is_short() -> None:
    book = stocked_book(east=5)
    placed(book, "o1", [(SHEET, 4)], locations=(EAST,))
    before = state(book)
    result, changes = run(book, Transfer("t1", SHEET, EAST, WEST, 2))  # 5 on hand but only 1 available
    assert isinstance(result, Failure)
    assert result.code == "insufficient_stock"
    assert result.message.startswith("quantity:")
    assert state(book) == before
    assert changes.ledger == []


# -- idempotency ---------------------------------------------------------------------------------


def test_placing_the_same_order_twice_returns_the_first_part_and_changes_nothing() -> None:
    book = stocked_book(east=5)
    first = placed(book, "o1", [(SHEET, 2)])
    before = state(book)
    result, changes = place(book, "o1", [(SHEET, 2)])
    assert isinstance(result, OrderPartState)
    assert not result.created
    assert result.lines == first.lines
    assert state(book) == before
    assert changes.empty


def test_placing_a_rejected_order_again_is_still_rejected_even_when_stock_arrived() -> None:
    book = stocked_book(east=1)
    placed(book, "o1", [(SHEET, 2)], policy="reject")
    receive(book, SHEET, EAST, 5)
    again = placed(book, "o1", [(SHEET, 2)], policy="reject")
    assert not again.created
    assert order_status(again.lines) == "rejected"
    assert levels(book, SHEET) == {EAST: (6, 0)}


def test_the_same_order_id_with_other_lines_is_refused() -> None:
    book = stocked_book(east=5)
    placed(book, "o1", [(SHEET, 2)])
    before = state(book)
    result, changes = place(book, "o1", [(SHEET, 3)])
    assert isinstance(result, Failure)
    assert result.code == "external_id_reused"
    assert result.message.startswith("external_id:")
    assert state(book) == before
    assert changes.empty


def test_an_order_the_store_knows_from_another_shard_is_refused_with_other_lines() -> None:
    book = stocked_book(east=5)
    book.stored_orders = {"o1": ("the-first-lines", 1)}
    result, changes = place(book, "o1", [(SHEET, 2)], signature="other-lines")
    assert isinstance(result, Failure)
    assert result.code == "external_id_reused"
    assert levels(book, SHEET) == {EAST: (5, 0)}
    assert changes.empty


# -- the invariants under random traffic ---------------------------------------------------------

VARIANTS = (21, 22, 23)
LOCATIONS = (1, 2, 3)
CHANNEL_LOCATIONS = ((1, 2), (2, 1), (3,), (1, 2, 3))


class Traffic:
    """Random commands of every kind, with enough repeats and refusals to reach every branch."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.orders: dict[str, str] = {}  # order id -> signature
        self.clock = 0.0

    def next(self) -> Command:
        rng = self.rng
        variant, location = rng.choice(VARIANTS), rng.choice(LOCATIONS)
        kind = rng.choices(
            ["receive", "delta", "count", "transfer", "place", "replace", "fulfil", "cancel", "abort"],
            weights=[10, 5, 3, 6, 25, 3, 12, 8, 2],
        )[0]
        cid = f"c{rng.getrandbits(48)}"
        if kind == "receive":
            return Receive(cid, variant, location, rng.randint(1, 6))
        if kind == "delta":
            return Adjust(cid, variant, location, "correction", delta=rng.randint(-5, 5))
        if kind == "count":
            return Adjust(cid, variant, location, "count", counted=rng.randint(0, 10))
        if kind == "transfer":
            return Transfer(cid, variant, location, rng.choice(LOCATIONS), rng.randint(1, 5))
        if kind in ("place", "replace") or not self.orders:
            return self._place(reuse=kind == "replace" and bool(self.orders))
        order_id = rng.choice(list(self.orders))
        if kind == "fulfil":
            return FulfilOrder(order_id)
        return CancelOrder(order_id) if kind == "cancel" else AbortOrder(order_id)

    def _place(self, reuse: bool) -> PlaceOrder:
        rng = self.rng
        lines = tuple(
            LineRequest(no, rng.choice(VARIANTS), rng.randint(1, 6)) for no in range(1, rng.randint(1, 3) + 1)
        )
        signature = repr(lines)
        if reuse:  # a replay (same lines) or a reuse of the id (other lines, refused)
            order_id = self.rng.choice(list(self.orders))
            if rng.random() < 0.5:
                signature = self.orders[order_id]
        else:
            order_id = f"o{len(self.orders)}"
            self.orders[order_id] = signature
        self.clock += rng.choice((0.0, 1.0))  # ties in placed_at happen too
        policy: Policy = rng.choice(("reject", "backorder"))
        return PlaceOrder(order_id, "ch", order_id, policy, rng.choice(CHANNEL_LOCATIONS), lines,
                          self.clock, signature)


def assert_never_oversold(book: StockBook) -> None:
    for variant, by_location in book.levels.items():
        for location, level in by_location.items():
            assert 0 <= level.reserved <= level.on_hand, (variant, location, level)


def assert_no_backorder_waits_beside_free_stock(book: StockBook) -> None:
    for variant, queue in book.backorders.items():
        for _, order_id, _ in queue:
            part = book.parts[order_id]
            free = [book.level(variant, loc).available for loc in part.locations]
            assert not any(free), (order_id, variant, free)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_traffic_never_oversells_and_the_ledger_folds_to_the_levels(seed: int) -> None:
    book = StockBook()
    traffic = Traffic(seed)
    folded: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    outcomes: dict[str, int] = defaultdict(int)
    for _ in range(400):
        changes = Changes()  # several commands per Changes, as a shard's batch does
        for _ in range(traffic.rng.randint(1, 8)):
            command = traffic.next()
            result = book.apply(command, changes)
            outcomes[type(result).__name__ + (f":{result.code}" if isinstance(result, Failure) else "")] += 1
            assert_never_oversold(book)
        assert_no_backorder_waits_beside_free_stock(book)
        for entry in changes.ledger:
            key = (entry.variant_id, entry.location_id)
            folded[key][0] += entry.delta_on_hand
            folded[key][1] += entry.delta_reserved
            assert key in changes.levels

    stock = {(v, loc): [lv.on_hand, lv.reserved]
             for v, by_location in book.levels.items() for loc, lv in by_location.items()}
    assert {k: v for k, v in folded.items() if v != [0, 0]} == {k: v for k, v in stock.items() if v != [0, 0]}

    allocated: dict[tuple[int, int], int] = defaultdict(int)
    waiting: dict[int, int] = defaultdict(int)
    queued = {(oid, no) for queue in book.backorders.values() for _, oid, no in queue}
    for part in book.parts.values():
        for line in part.lines:
            if line.state != LineStatus.OPEN:
                assert (part.order_id, line.line_no) not in queued
                continue
            assert sum(line.allocations.values()) + line.backordered == line.quantity
            assert {loc for loc, q in line.allocations.items() if q} <= set(part.locations)
            assert ((part.order_id, line.line_no) in queued) == (line.backordered > 0)
            waiting[line.variant_id] += line.backordered
            for loc, quantity in line.allocations.items():
                allocated[(line.variant_id, loc)] += quantity
    for (variant, location), (_, reserved) in stock.items():
        assert reserved == allocated.get((variant, location), 0), (variant, location)
    for variant in VARIANTS:
        assert book.stock_of(variant).backordered == waiting[variant]

    # the traffic reached every branch worth reaching
    for outcome in ("VariantStock", "OrderPartState", "Failure:below_reserved", "Failure:insufficient_stock",
                    "Failure:external_id_reused", "Failure:order_backordered", "Failure:order_fulfilled"):
        assert outcomes[outcome] > 0, (outcome, dict(outcomes))
