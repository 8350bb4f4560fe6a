"""Allocation of a quantity over locations in priority order, and an order's status from its lines."""

from __future__ import annotations

from collections.abc import Iterable

from inventory.commands import LineState
from inventory.model import CANCELLED, FULFILLED, OPEN, REJECTED


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


def order_status(lines: Iterable[LineState]) -> str:
    """The status API clients see, derived from the lines (one source of truth)."""
    states = list(lines)
    if any(line.state == REJECTED for line in states):
        return "rejected"
    open_lines = [line for line in states if line.state == OPEN]
    if not open_lines:
        if states and all(line.state == CANCELLED for line in states):
            return "cancelled"
        if any(line.state == FULFILLED for line in states):
            return "fulfilled"
        return "cancelled"
    if all(line.backordered == 0 for line in open_lines):
        return "reserved"
    if all(line.reserved == 0 for line in open_lines):
        return "backordered"
    return "partially_backordered"

