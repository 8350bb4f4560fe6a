"""allocate() over locations in priority order, and order_status() from an order's lines."""

from __future__ import annotations

import pytest

from inventory.allocation import allocate, order_status
from inventory.commands import LineState


def test_a_quantity_is_taken_from_the_first_location_when_it_has_enough() -> None:
    assert allocate([(1, 10), (2, 10)], 4) == ({1: 4}, 0)


def test_a_quantity_splits_to_the_next_location_only_when_the_first_is_short() -> None:
    assert allocate([(1, 3), (2, 10), (3, 10)], 5) == ({1: 3, 2: 2}, 0)


def test_the_order_given_is_the_priority() -> None:
    assert allocate([(2, 10), (1, 10)], 4) == ({2: 4}, 0)


def test_locations_with_nothing_free_are_skipped() -> None:
    assert allocate([(1, 0), (2, 5)], 2) == ({2: 2}, 0)


def test_what_no_location_can_give_is_the_shortfall() -> None:
    assert allocate([(1, 2), (2, 1)], 5) == ({1: 2, 2: 1}, 2)


def test_nothing_available_anywhere_leaves_the_whole_quantity_short() -> None:
    assert allocate([], 3) == ({}, 3)
    assert allocate([(1, 0)], 3) == ({}, 3)


def test_a_zero_quantity_takes_nothing() -> None:
    assert allocate([(1, 5)], 0) == ({}, 0)


def test_allocate_reads_a_one_shot_iterable_once() -> None:
    assert allocate(iter([(1, 1), (2, 1)]), 2) == ({1: 1, 2: 1}, 0)


def line(state: str = "open", reserved: int = 0, backordered: int = 0, line_no: int = 1) -> LineState:
    allocations = {1: reserved} if reserved else {}
    return LineState(line_no, 7, reserved + backordered, allocations, backordered, state)


@pytest.mark.parametrize(("lines", "status"), [
    ([line(reserved=2), line(reserved=1, line_no=2)], "reserved"),
    ([line(reserved=2), line(reserved=1, backordered=1, line_no=2)], "partially_backordered"),
    ([line(reserved=2), line(backordered=3, line_no=2)], "partially_backordered"),
    ([line(backordered=2), line(backordered=1, line_no=2)], "backordered"),
    ([line("rejected"), line("rejected", line_no=2)], "rejected"),
    ([line("rejected"), line(reserved=1, line_no=2)], "rejected"),
    ([line("fulfilled", reserved=2), line("fulfilled", reserved=1, line_no=2)], "fulfilled"),
    ([line("cancelled"), line("cancelled", line_no=2)], "cancelled"),
], ids=["reserved", "partial-split", "partial-lines", "backordered", "rejected", "rejected-wins",
        "fulfilled", "cancelled"])
def test_an_orders_status_is_derived_from_its_lines(lines: list[LineState], status: str) -> None:
    assert order_status(lines) == status


def test_a_closed_order_with_any_fulfilled_line_counts_as_fulfilled() -> None:
    assert order_status([line("fulfilled", reserved=1), line("cancelled", line_no=2)]) == "fulfilled"


def test_open_lines_decide_the_status_while_any_line_is_open() -> None:
    assert order_status([line("fulfilled", reserved=1), line(backordered=1, line_no=2)]) == "backordered"


def test_order_status_accepts_a_generator() -> None:
    assert order_status(x for x in [line(reserved=1)]) == "reserved"


def test_a_line_reports_the_sum_of_its_allocations_as_reserved() -> None:
    assert LineState(1, 7, 5, {1: 2, 2: 3}, 0, "open").reserved == 5
