"""StockBook: what happens to an order after it is placed (fulfil, cancel, abort), stock adjustments and
transfers, and the same order sent again."""

from __future__ import annotations

import pytest

from inventory import commands as c
from inventory.allocation import order_status
from inventory.book import StockBook
from tests.unit.books import (
    EAST,
    PILLOW,
    SHEET,
    WEST,
    levels,
    place,
    placed,
    receive,
    run,
    state,
    stocked_book,
)


def test_fulfil_lowers_on_hand_and_reserved_together() -> None:
    book = stocked_book(east=2, west=5)
    placed(book, "o1", [(SHEET, 4)])
    result, changes = run(book, c.FulfilOrder("o1"))
    assert isinstance(result, c.OrderPartState)
    assert order_status(result.lines) == "fulfilled"
    assert levels(book, SHEET) == {EAST: (0, 0), WEST: (3, 0)}
    assert sorted((e.kind, e.location_id, e.delta_on_hand, e.delta_reserved) for e in changes.ledger) == [
        ("fulfil", EAST, -2, -2), ("fulfil", WEST, -2, -2)
    ]


def test_fulfilling_twice_is_harmless() -> None:
    book = stocked_book(east=3)
    placed(book, "o1", [(SHEET, 2)])
    run(book, c.FulfilOrder("o1"))
    before = state(book)
    result, changes = run(book, c.FulfilOrder("o1"))
    assert isinstance(result, c.OrderPartState)
    assert order_status(result.lines) == "fulfilled"
    assert state(book) == before
    assert changes.ledger == []


def test_fulfil_of_a_backordered_order_is_refused_and_changes_nothing() -> None:
    book = stocked_book(east=1)
    placed(book, "o1", [(SHEET, 1), (PILLOW, 2)])
    before = state(book)
    result, changes = run(book, c.FulfilOrder("o1"))
    assert isinstance(result, c.Failure)
    assert result.code == "order_backordered"
    assert state(book) == before
    assert changes.empty


def test_cancel_after_fulfil_is_refused() -> None:
    book = stocked_book(east=3)
    placed(book, "o1", [(SHEET, 2)])
    run(book, c.FulfilOrder("o1"))
    before = state(book)
    result, changes = run(book, c.CancelOrder("o1"))
    assert isinstance(result, c.Failure)
    assert result.code == "order_fulfilled"
    assert state(book) == before
    assert changes.empty


def test_fulfil_after_cancel_is_refused() -> None:
    book = stocked_book(east=3)
    placed(book, "o1", [(SHEET, 2)])
    run(book, c.CancelOrder("o1"))
    result, _ = run(book, c.FulfilOrder("o1"))
    assert isinstance(result, c.Failure)
    assert result.code == "order_cancelled"


def test_a_rejected_order_cannot_be_cancelled_or_fulfilled() -> None:
    book = stocked_book(east=1)
    placed(book, "o1", [(SHEET, 2)], policy="reject")
    for command in (c.CancelOrder("o1"), c.FulfilOrder("o1")):
        result, _ = run(book, command)
        assert isinstance(result, c.Failure)
        assert result.code == "order_rejected"


@pytest.mark.parametrize("command", [c.FulfilOrder("nope"), c.CancelOrder("nope"), c.AbortOrder("nope")])
def test_a_transition_of_an_unknown_order_is_not_found(command: c.Command) -> None:
    result, changes = run(StockBook(), command)
    assert isinstance(result, c.Failure)
    assert result.code == "not_found"
    assert changes.empty


def test_abort_releases_the_reservation_and_marks_the_lines_rejected() -> None:
    book = stocked_book(east=3)
    receive(book, PILLOW, EAST, 1)
    placed(book, "o1", [(SHEET, 2), (PILLOW, 1)], policy="reject", locations=(EAST,))
    result, changes = run(book, c.AbortOrder("o1"))
    assert isinstance(result, c.OrderPartState)
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
    run(book, c.AbortOrder("o1"))
    assert book.parts["o2"].lines[0].allocations == {EAST: 1}
    assert book.stock_of(SHEET).backordered == 0


# -- adjustments and transfers -------------------------------------------------------------------


def test_an_adjustment_by_delta_moves_on_hand_and_writes_its_reason() -> None:
    book = stocked_book(east=5)
    result, changes = run(book, c.Adjust("a1", SHEET, EAST, "damage", delta=-2, note="torn", actor="kim"))
    assert isinstance(result, c.VariantStock)
    assert result.levels == {EAST: (3, 0)}
    [entry] = changes.ledger
    assert (entry.kind, entry.delta_on_hand, entry.reason, entry.note, entry.actor, entry.command_id) == (
        "adjustment", -2, "damage", "torn", "kim", "a1"
    )


def test_an_adjustment_by_count_sets_on_hand_to_the_counted_quantity() -> None:
    book = stocked_book(east=5)
    result, changes = run(book, c.Adjust("a1", SHEET, EAST, "count", counted=8))
    assert isinstance(result, c.VariantStock)
    assert result.levels == {EAST: (8, 0)}
    assert [e.delta_on_hand for e in changes.ledger] == [3]
    result, changes = run(book, c.Adjust("a2", SHEET, EAST, "count", counted=0))
    assert levels(book, SHEET) == {EAST: (0, 0)}
    assert [e.delta_on_hand for e in changes.ledger] == [-8]


def test_a_count_that_matches_on_hand_writes_no_ledger_entry() -> None:
    book = stocked_book(east=5)
    result, changes = run(book, c.Adjust("a1", SHEET, EAST, "count", counted=5))
    assert isinstance(result, c.VariantStock)
    assert changes.ledger == []


@pytest.mark.parametrize("adjust", [
    c.Adjust("a1", SHEET, EAST, "loss", delta=-3),
    c.Adjust("a1", SHEET, EAST, "count", counted=2),
    c.Adjust("a1", SHEET, EAST, "loss", delta=-6),
])
def test_an_adjustment_that_would_leave_on_hand_below_reserved_is_refused(adjust: c.Adjust) -> None:
    book = stocked_book(east=5)
    placed(book, "o1", [(SHEET, 3)], locations=(EAST,))
    before = state(book)
    result, changes = run(book, adjust)
    assert isinstance(result, c.Failure)
    assert result.code == "below_reserved"
    assert state(book) == before
    assert changes.empty


def test_an_adjustment_down_to_exactly_the_reserved_quantity_is_allowed() -> None:
    book = stocked_book(east=5)
    placed(book, "o1", [(SHEET, 3)], locations=(EAST,))
    result, _ = run(book, c.Adjust("a1", SHEET, EAST, "loss", delta=-2))
    assert isinstance(result, c.VariantStock)
    assert result.levels == {EAST: (3, 3)}


def test_a_transfer_moves_stock_between_locations() -> None:
    book = stocked_book(east=5)
    result, changes = run(book, c.Transfer("t1", SHEET, EAST, WEST, 2, reference="truck-7"))
    assert isinstance(result, c.VariantStock)
    assert result.levels == {EAST: (3, 0), WEST: (2, 0)}
    assert [(e.kind, e.location_id, e.delta_on_hand, e.reference) for e in changes.ledger] == [
        ("transfer_out", EAST, -2, "truck-7"), ("transfer_in", WEST, 2, "truck-7")
    ]


def test_a_transfer_is_refused_when_the_source_is_short() -> None:
    book = stocked_book(east=5)
    placed(book, "o1", [(SHEET, 4)], locations=(EAST,))
    before = state(book)
    result, changes = run(book, c.Transfer("t1", SHEET, EAST, WEST, 2))  # 5 on hand but only 1 available
    assert isinstance(result, c.Failure)
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
    assert isinstance(result, c.OrderPartState)
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
    assert isinstance(result, c.Failure)
    assert result.code == "external_id_reused"
    assert result.message.startswith("external_id:")
    assert state(book) == before
    assert changes.empty


def test_an_order_the_store_knows_from_another_shard_is_refused_with_other_lines() -> None:
    book = stocked_book(east=5)
    book.stored_orders = {"o1": ("the-first-lines", 1)}
    result, changes = place(book, "o1", [(SHEET, 2)], signature="other-lines")
    assert isinstance(result, c.Failure)
    assert result.code == "external_id_reused"
    assert levels(book, SHEET) == {EAST: (5, 0)}
    assert changes.empty
