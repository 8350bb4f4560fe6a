"""Holds, the pure parts: a hold's conversion into an order inside one book, the pairing of an order's
lines with a hold's, the expiry queue and the dashboard's time left."""

from __future__ import annotations

from inventory import commands as c
from inventory.book import StockBook
from inventory.holds import ExpiryQueue, pair_lines
from inventory.model import Changes
from tests.unit.books import EAST, PILLOW, SHEET, WEST, levels, placed, receive, run, state, stocked_book
from web.dashboard.holds import time_left

HOLD = "hld_1"


def convert(book: StockBook, lines: list[tuple[int, int]], pairs: list[int], order_id: str = "o1"
            ) -> tuple[c.Result, Changes]:
    requests = tuple(c.LineRequest(no, v, q) for no, (v, q) in enumerate(lines, start=1))
    place = c.PlaceOrder(order_id, "shop", order_id, "reject", (EAST, WEST), requests, 1.0, repr(lines))
    return run(book, c.ConvertHold(place, HOLD, tuple((no, pair) for no, pair in enumerate(pairs, start=1))))


def held_book() -> StockBook:
    book = stocked_book(east=2, west=5)
    receive(book, PILLOW, EAST, 4)
    placed(book, HOLD, [(SHEET, 3), (PILLOW, 2)], policy="reject")
    return book


def test_a_converted_hold_gives_its_units_to_the_order_at_the_same_locations_in_one_batch() -> None:
    book = held_book()
    result, changes = convert(book, [(PILLOW, 2), (SHEET, 3)], [2, 1])
    assert isinstance(result, c.OrderPartState) and result.created
    assert [(line.variant_id, line.allocations, line.state) for line in result.lines] == [
        (PILLOW, {EAST: 2}, "open"), (SHEET, {EAST: 2, WEST: 1}, "open")]
    assert levels(book, SHEET) == {EAST: (2, 2), WEST: (5, 1)}   # still reserved: never free in between
    assert all(line.state == "cancelled" and not line.allocations for line in book.parts[HOLD].lines)
    moves = sorted((e.kind, e.reference, e.variant_id, e.location_id, e.delta_reserved) for e in changes.ledger)
    assert moves == sorted([
        ("release", HOLD, SHEET, EAST, -2), ("release", HOLD, SHEET, WEST, -1), ("release", HOLD, PILLOW, EAST, -2),
        ("reserve", "o1", SHEET, EAST, 2), ("reserve", "o1", SHEET, WEST, 1), ("reserve", "o1", PILLOW, EAST, 2)])


def test_converting_again_answers_the_same_order_and_changes_nothing() -> None:
    book = held_book()
    first, _ = convert(book, [(SHEET, 3), (PILLOW, 2)], [1, 2])
    before = state(book)
    again, changes = convert(book, [(SHEET, 3), (PILLOW, 2)], [1, 2])
    assert isinstance(again, c.OrderPartState) and not again.created
    assert isinstance(first, c.OrderPartState) and again.lines == first.lines
    assert state(book) == before and changes.empty


def test_a_released_hold_cannot_be_converted() -> None:
    book = held_book()
    run(book, c.CancelOrder(HOLD))
    before = state(book)
    result, changes = convert(book, [(SHEET, 3), (PILLOW, 2)], [1, 2])
    assert isinstance(result, c.Failure) and result.code == "hold_not_held"
    assert state(book) == before and changes.empty


def test_lines_other_than_the_holds_are_refused_and_change_nothing() -> None:
    book = held_book()
    before = state(book)
    for lines, pairs in (([(SHEET, 2), (PILLOW, 2)], [1, 2]), ([(SHEET, 3)], [1]), ([(PILLOW, 2), (SHEET, 3)], [1, 2])):
        result, changes = convert(book, lines, pairs)
        assert isinstance(result, c.Failure) and result.code == "hold_lines_differ", lines
        assert state(book) == before and changes.empty


def test_an_order_id_already_used_by_another_order_is_refused_while_the_hold_stays_held() -> None:
    book = held_book()
    receive(book, SHEET, EAST, 10)
    receive(book, PILLOW, EAST, 10)
    placed(book, "o1", [(SHEET, 3), (PILLOW, 2)])
    before = state(book)
    result, changes = convert(book, [(SHEET, 3), (PILLOW, 2)], [1, 2])
    assert isinstance(result, c.Failure) and result.code == "external_id_reused"
    assert state(book) == before and changes.empty


def test_an_orders_lines_pair_with_the_holds_in_any_order_and_only_when_they_are_the_same() -> None:
    held = [(1, 2), (2, 1), (1, 2)]
    assert pair_lines(held, [(2, 1), (1, 2), (1, 2)]) == [2, 1, 3]
    assert pair_lines(held, [(1, 2), (1, 2), (2, 2)]) is None
    assert pair_lines(held, [(1, 2), (2, 1)]) is None
    assert pair_lines([], []) == []


def test_the_expiry_queue_gives_due_holds_soonest_first_once_and_skips_forgotten_or_moved_ones() -> None:
    queue = ExpiryQueue()
    queue.watch("a", 30.0)
    queue.watch("b", 10.0)
    queue.watch("c", 20.0)
    queue.watch("d", 15.0)
    queue.forget("d")
    queue.watch("c", 40.0)   # watched again: the newer time wins
    assert queue.next_at() == 10.0
    assert queue.due(5.0) == []
    assert queue.due(30.0) == ["b", "a"]
    assert queue.due(30.0) == []
    assert queue.next_at() == 40.0 and len(queue) == 1
    assert queue.due(100.0) == ["c"] and queue.next_at() is None


def test_time_left_reads_as_hours_minutes_and_seconds_and_never_below_zero() -> None:
    assert time_left(100.0, 97.2) == "3s"
    assert time_left(100.0, 100.0 - 125) == "2m 05s"
    assert time_left(100.0, 100.0 - 3723) == "1h 02m 03s"
    assert time_left(100.0, 101.0) == "0s"


def test_the_holds_list_shows_each_hold_with_its_time_left_and_says_when_nothing_is_held() -> None:
    from inventory.holds import HoldStatus
    from store.holds import StoredHold
    from web.dashboard import build_environment

    block = build_environment().get_template("holds.html").blocks["hold_list"]
    hold = StoredHold("hld_1", "direct", HoldStatus.HELD, [(SHEET, 2)], 0.0, 125.0, actor="alice")
    rows = [{"hold": hold, "left": time_left(125.0, 0.0), "seconds": 125, "lines": "SHEET x 2"}]
    env = build_environment()
    shown = "".join(block(env.get_template("holds.html").new_context({"rows": rows, "shown": 200})))
    assert 'data-hold="hld_1"' in shown and 'data-seconds="125"' in shown and "2m 05s" in shown
    assert 'hx-trigger="every 1s"' in shown
    empty = "".join(block(env.get_template("holds.html").new_context({"rows": [], "shown": 200})))
    assert "Nothing is held." in empty
