"""Holds: short reservations for carts and checkouts, and the pure rules around them.

A hold is kept by the shards as an order part of its own: order id = the hold id, channel `hold`,
policy `reject` (all or nothing, across shards, as any order). Releasing or expiring it cancels that
part; converting it moves its units to a real order (inventory.commands.ConvertHold). Which of
release, expiry and conversion happens is decided once, by the store (store.holds.claim)."""

from __future__ import annotations

import heapq
import secrets
from collections.abc import Sequence
from enum import StrEnum

HOLD_CHANNEL = "hold"
MIN_TTL_S = 1
MAX_TTL_S = 7 * 24 * 3600


class HoldStatus(StrEnum):
    HELD = "held"
    RELEASED = "released"
    EXPIRED = "expired"
    CONVERTED = "converted"


def new_hold_id() -> str:
    """Also the order id of the hold's parts on the shards (orders use `ord_...`)."""
    return f"hld_{secrets.token_hex(12)}"


def pair_lines(held: Sequence[tuple[int, int]], wanted: Sequence[tuple[int, int]]) -> list[int] | None:
    """For each (variant, quantity) line of an order, the number (1-based) of the hold line with the
    same variant and quantity; None unless the order's lines are the hold's, in any order."""
    if len(held) != len(wanted):
        return None
    free = list(enumerate(held, start=1))
    pairs = []
    for line in wanted:
        match = next((i for i, (no, candidate) in enumerate(free) if candidate == line), None)
        if match is None:
            return None
        pairs.append(free.pop(match)[0])
    return pairs


class ExpiryQueue:
    """Which holds are due, soonest first. A hold watched again replaces its earlier time; one
    forgotten is skipped when its time comes."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        self._due_at: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._due_at)

    def watch(self, hold_id: str, expires_at: float) -> None:
        self._due_at[hold_id] = expires_at
        heapq.heappush(self._heap, (expires_at, hold_id))

    def forget(self, hold_id: str) -> None:
        self._due_at.pop(hold_id, None)

    def next_at(self) -> float | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def due(self, now: float) -> list[str]:
        """Every hold whose time has come, taken off the queue."""
        found = []
        while (head := self.next_at()) is not None and head <= now:
            _, hold_id = heapq.heappop(self._heap)
            del self._due_at[hold_id]
            found.append(hold_id)
        return found

    def _drop_stale(self) -> None:
        while self._heap and self._due_at.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
