"""Allocation of a quantity over locations in priority order, and an order's status from its lines."""

from __future__ import annotations

from collections.abc import Iterable

from inventory.commands import LineState, LineStatus, OrderStatus


def allocate(available: Iterable[tuple[int, int]], quantity: int) -> tuple[dict[int, int], int]:
    """Take `quantity` from (location, available) pairs in the order given.

    Returns the allocation per location and the shortfall; a location is split off only when the
    ones before it are short.
    """
    taken: dict[int, int] = {}
    remaining = quantity
    for location_id, free in available:
        if remaining == 0:
            break
        take = min(free, remaining)
        if take > 0:
            taken[location_id] = take
            remaining -= take
    return taken, remaining


def order_status(lines: Iterable[LineState]) -> OrderStatus:
    """The status API clients see, derived from the lines (one source of truth)."""
    states = list(lines)
    if any(line.state == LineStatus.REJECTED for line in states):
        return OrderStatus.REJECTED
    open_lines = [line for line in states if line.state == LineStatus.OPEN]
    if not open_lines:
        if states and all(line.state == LineStatus.CANCELLED for line in states):
            return OrderStatus.CANCELLED
        if any(line.state == LineStatus.FULFILLED for line in states):
            return OrderStatus.FULFILLED
        return OrderStatus.CANCELLED
    if all(line.backordered == 0 for line in open_lines):
        return OrderStatus.RESERVED
    if all(line.reserved == 0 for line in open_lines):
        return OrderStatus.BACKORDERED
    return OrderStatus.PARTIALLY_BACKORDERED

