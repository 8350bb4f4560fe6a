"""StockBook: the stock rules of one shard, applied in memory (no Ray, no database): receipts, allocation
across a channel's locations, the reject and backorder policies, and backorders filled."""

from __future__ import annotations

from inventory.allocation import order_status
from inventory.book import StockBook
from inventory.commands import (
    Adjust,
    CancelOrder,
    LineStatus,
    OrderPartState,
    Transfer,
)
from tests.unit.books import (
    EAST,
    PILLOW,
    SHEET,
    SOHO,
    WEST,
    levels,
    place,
    placed,
    receive,
    run,
    state,
    stocked_book,
)


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
