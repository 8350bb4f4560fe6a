"""Commands a stock shard applies and the results it answers with.

Pure data: no Ray, no database. Commands are imperative (`Receive`, `PlaceOrder`); every one carries
the key that makes it idempotent (a command id, or the order id derived from channel + external id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Policy = Literal["reject", "backorder"]
AdjustReason = Literal["count", "damage", "loss", "found", "return", "correction"]
ADJUST_REASONS: tuple[str, ...] = ("count", "damage", "loss", "found", "return", "correction")


@dataclass(frozen=True, slots=True)
class Receive:
    command_id: str
    variant_id: int
    location_id: int
    quantity: int
    reference: str | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class Adjust:
    """Either `delta` or `count` (the counted on-hand quantity) is set, never both."""

    command_id: str
    variant_id: int
    location_id: int
    reason: str
    delta: int | None = None
    count: int | None = None
    note: str | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class Transfer:
    command_id: str
    variant_id: int
    from_location_id: int
    to_location_id: int
    quantity: int
    reference: str | None = None
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class LineRequest:
    line_no: int
    variant_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """One shard's part of an order: the lines whose variants that shard owns.

    `locations` is the channel's allocation order at the time the order was taken; it is kept with
    the order so backorders are filled from the same places after a restart.
    """

    order_id: str
    channel: str
    external_id: str
    policy: Policy
    locations: tuple[int, ...]
    lines: tuple[LineRequest, ...]
    placed_at: float
    signature: str = ""  # of the whole order's lines: the same external id for other lines is refused
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class FulfilOrder:
    order_id: str
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class CancelOrder:
    order_id: str
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class InspectOrder:
    """Read a part as it stands; changes nothing."""

    order_id: str


@dataclass(frozen=True, slots=True)
class AbortOrder:
    """Undo a part whose sibling part was rejected: release it and mark it rejected."""

    order_id: str
    actor: str | None = None


StockCommand = Receive | Adjust | Transfer
OrderCommand = PlaceOrder | FulfilOrder | CancelOrder | AbortOrder | InspectOrder
Command = StockCommand | OrderCommand


@dataclass(frozen=True, slots=True)
class Failure:
    """A command refused by the rules; nothing was applied. `status` is the HTTP status it maps to."""

    code: str
    message: str
    status: int = 409


@dataclass(frozen=True, slots=True)
class VariantStock:
    """A variant's stock after a command: {location_id: (on_hand, reserved)} and its backorders."""

    variant_id: int
    levels: dict[int, tuple[int, int]]
    backordered: int


@dataclass(frozen=True, slots=True)
class LineState:
    line_no: int
    variant_id: int
    quantity: int
    allocations: dict[int, int]
    backordered: int
    state: str

    @property
    def reserved(self) -> int:
        return sum(self.allocations.values())


@dataclass(frozen=True, slots=True)
class OrderPartState:
    order_id: str
    channel: str
    external_id: str
    created: bool
    lines: tuple[LineState, ...] = field(default_factory=tuple)


Result = Failure | VariantStock | OrderPartState
