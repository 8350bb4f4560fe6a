"""Commands a stock shard applies and the results it answers with.

Pure data: no Ray, no database. Commands are imperative (`Receive`, `PlaceOrder`); every one carries
the key that makes it idempotent (a command id, or the order id derived from channel + external id).
Named tuples, because commands and answers cross a Ray call by the thousand and a tuple pickles
several times faster than a slotted dataclass.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, NamedTuple

Policy = Literal["reject", "backorder"]
ADJUST_REASONS: tuple[str, ...] = ("count", "damage", "loss", "found", "return", "correction")
# Which way a change with each reason moves stock: damage and loss only lower it, found and returned
# units only raise it; a count or a correction may go either way.
REASON_SIGN: dict[str, int] = {"damage": -1, "loss": -1, "found": 1, "return": 1}
MAX_ADJUSTMENT = 1_000_000  # units in one change: more is a typo, not a stock movement


class LineStatus(StrEnum):
    """Where an order line stands; the values are what the store and the API hold."""

    OPEN = "open"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class OrderStatus(StrEnum):
    """An order's status as clients see it, derived from its lines (inventory.allocation.order_status)."""

    RESERVED = "reserved"
    PARTIALLY_BACKORDERED = "partially_backordered"
    BACKORDERED = "backordered"
    REJECTED = "rejected"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


class Receive(NamedTuple):
    command_id: str
    variant_id: int
    location_id: int
    quantity: int
    reference: str | None = None
    actor: str | None = None


class Adjust(NamedTuple):
    """Either `delta` or `counted` (the counted on-hand quantity) is set, never both."""

    command_id: str
    variant_id: int
    location_id: int
    reason: str
    delta: int | None = None
    counted: int | None = None
    note: str | None = None
    actor: str | None = None


class Transfer(NamedTuple):
    command_id: str
    variant_id: int
    from_location_id: int
    to_location_id: int
    quantity: int
    reference: str | None = None
    actor: str | None = None


class LineRequest(NamedTuple):
    line_no: int
    variant_id: int
    quantity: int


class PlaceOrder(NamedTuple):
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
    seq: int = 0  # the order's storage key, rising with time (see inventory.partition.OrderSeqs)


class FulfilOrder(NamedTuple):
    order_id: str
    actor: str | None = None


class CancelOrder(NamedTuple):
    order_id: str
    actor: str | None = None


class InspectOrder(NamedTuple):
    """Read a part as it stands; changes nothing."""

    order_id: str


class AbortOrder(NamedTuple):
    """Undo a part whose sibling part was rejected: release it and mark it rejected."""

    order_id: str
    actor: str | None = None


class ConvertHold(NamedTuple):
    """One shard's part of turning a hold into an order: the hold part's reserved units become the
    new order part's, at the same locations, in one batch (one transaction: nobody can take them in
    between). `pairs` names, for each line of `place`, the hold line whose units it takes. A replay
    (the order part already made from this hold) answers that part and changes nothing."""

    place: PlaceOrder
    hold_id: str
    pairs: tuple[tuple[int, int], ...]  # (order line_no, hold line_no)

    @property
    def order_id(self) -> str:
        return self.place.order_id


StockCommand = Receive | Adjust | Transfer
OrderCommand = PlaceOrder | FulfilOrder | CancelOrder | AbortOrder | InspectOrder | ConvertHold
Command = StockCommand | OrderCommand


class Failure(NamedTuple):
    """A command refused by the rules; nothing was applied. The code says which rule; how a caller
    answers it (an HTTP status, say) is the caller's business."""

    code: str
    message: str



class VariantStock(NamedTuple):
    """A variant's stock after a command: {location_id: (on_hand, reserved)} and its backorders."""

    variant_id: int
    levels: dict[int, tuple[int, int]]
    backordered: int


class LineState(NamedTuple):
    line_no: int
    variant_id: int
    quantity: int
    allocations: dict[int, int]
    backordered: int
    state: LineStatus

    @property
    def reserved(self) -> int:
        return sum(self.allocations.values())


class OrderPartState(NamedTuple):
    order_id: str
    channel: str
    external_id: str
    created: bool
    lines: tuple[LineState, ...] = ()
    seq: int = 0  # the order's storage key, which every part of it shares


Result = Failure | VariantStock | OrderPartState
