"""The in-memory shapes of stock: levels, order parts and ledger entries, and what a batch changed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from inventory.commands import Failure, LineState, LineStatus, OrderPartState, Policy


@dataclass(slots=True)
class Level:
    on_hand: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(slots=True)
class Line:
    line_no: int
    variant_id: int
    quantity: int
    allocations: dict[int, int] = field(default_factory=dict)
    backordered: int = 0
    state: LineStatus = LineStatus.OPEN

    def snapshot(self) -> LineState:
        # positional and a plain copy: this runs for every line of every answer
        return LineState(self.line_no, self.variant_id, self.quantity, self.allocations.copy(),
                         self.backordered, self.state)


@dataclass(slots=True)
class OrderPart:
    order_id: str
    channel: str
    external_id: str
    policy: Policy
    locations: tuple[int, ...]
    placed_at: float
    lines: list[Line]
    signature: str = ""
    seq: int = 0

    def line(self, line_no: int) -> Line:
        return next(line for line in self.lines if line.line_no == line_no)

    @property
    def is_open(self) -> bool:
        return any(line.state == LineStatus.OPEN for line in self.lines)

    def snapshot(self, created: bool) -> OrderPartState:
        return OrderPartState(
            order_id=self.order_id,
            channel=self.channel,
            external_id=self.external_id,
            created=created,
            lines=tuple(line.snapshot() for line in self.lines),
            seq=self.seq,
        )


class _Waiting(Protocol):
    @property
    def state(self) -> LineStatus: ...

    @property
    def backordered(self) -> int: ...


def backordered_refusal(order_id: str, lines: Iterable[_Waiting]) -> Failure | None:
    """An order ships only whole: refused while any open line still waits for units. The book asks
    it of its part, the desk of every part of an order split over shards."""
    if any(line.backordered for line in lines if line.state == LineStatus.OPEN):
        return Failure("order_backordered",
                       f"order {order_id} still has backordered units; wait for stock or cancel it")
    return None


class LedgerEntry(NamedTuple):  # made once per stock move: a frozen dataclass was several times slower
    variant_id: int
    location_id: int
    kind: str
    delta_on_hand: int
    delta_reserved: int
    reason: str | None = None
    reference: str | None = None
    note: str | None = None
    actor: str | None = None
    command_id: str | None = None


@dataclass(slots=True)
class Changes:
    """Everything one batch changed, gathered for one group commit."""

    levels: set[tuple[int, int]] = field(default_factory=set)
    ledger: list[LedgerEntry] = field(default_factory=list)
    new_parts: dict[str, OrderPart] = field(default_factory=dict)
    lines: dict[tuple[int, int], Line] = field(default_factory=dict)  # changed lines of older parts

    def add_part(self, part: OrderPart) -> None:
        self.new_parts[part.order_id] = part

    def touch_line(self, part: OrderPart, line: Line) -> None:
        """A line changed; the lines of a part this batch created are written with it, as they end."""
        if part.order_id not in self.new_parts:
            self.lines[(part.seq, line.line_no)] = line

    @property
    def empty(self) -> bool:
        return not (self.levels or self.ledger or self.lines or self.new_parts)
