"""The one small interface every partner connector implements, and the types it speaks.

A connector holds all translation of one partner's formats (JSON, XML, CSV, X12 EDI) and nothing
else: no scheduling, no retries, no store. The PartnerConnector actor owns those and calls this.
A connector that works against a simulator needs only `base_url` and `credentials` to work against
the real partner.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from connectors.limits import Limiter, NoLimiter, RateSpec


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name whatever its case (a plain dict is not case-insensitive)."""
    found = headers.get(name)
    if found is not None:
        return found
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), None)


class PartnerError(Exception):
    """A partner call failed in a way worth retrying later (5xx, timeout, connection refused)."""


class RateLimited(PartnerError):
    """The partner answered 429 (or its throttled shape); wait `retry_after` seconds."""

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


class AuthExpired(PartnerError):
    """The access token expired or was refused; refresh it and try again."""


class PartnerRejected(Exception):
    """The partner refused the request itself (4xx other than auth/429); retrying will not help."""


class OrderEventKind(enum.StrEnum):
    CREATED = "created"      # reserve (or backorder) the lines
    SHIPPED = "shipped"      # fulfil
    CANCELLED = "cancelled"  # cancel
    SALE = "sale"            # an in-store sale: reserve and fulfil at once


@dataclass(frozen=True, slots=True)
class OrderLine:
    """`sku` is our SKU as the partner named it ("" when it named none). Partners that name a product
    several ways (EDI: our part number, a GTIN, their own part number) give the others too, and the
    intake tries them in that order: `sku`, then `gtin`, then `alternate_sku`."""

    sku: str
    quantity: int
    gtin: str = ""           # UPC-12 or EAN-13 the partner gave for the product
    alternate_sku: str = ""  # our SKU by the partner's own part number (a cross-reference)

    @property
    def named(self) -> str:
        """The first way the partner named the product, for messages and alert keys."""
        return self.sku or self.gtin or self.alternate_sku


@dataclass(frozen=True, slots=True)
class LineAnswer:
    """What became of one line of a partner's order: units reserved, backordered and refused
    (an unknown product, or stock that is gone under the reject policy). `sku` is the SKU the line
    was read as, "" when no product matched."""

    sku: str
    accepted: int = 0
    backordered: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class OrderAnswer:
    """The answer to one new order event, line by line in the order of the event's lines."""

    event_id: str
    order_id: str
    lines: tuple[LineAnswer, ...]


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One thing that happened to a partner's order. `order_id` is the partner's own id (our
    external_id). `event_id` is the partner's event id when it has one, else one derived from the
    order id and state, so the same fact seen by webhook and by poll dedupes."""

    event_id: str
    kind: OrderEventKind
    order_id: str
    lines: tuple[OrderLine, ...] = ()
    occurred_at: float | None = None   # unix seconds
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)  # for confirm(), e.g. EDI ids


@dataclass(frozen=True, slots=True)
class OrderPage:
    events: list[OrderEvent]
    cursor: str | None   # opaque: store it after the events are committed, pass it back next time
    more: bool = False   # another page is ready now


@dataclass(frozen=True, slots=True)
class Listing:
    """A quantity to show for one of our SKUs at the partner."""

    sku: str
    quantity: int
    gtin: str = ""   # the variant's UPC/EAN, for partners whose files carry it (EDI 846)


@dataclass(frozen=True, slots=True)
class PushResult:
    sku: str
    ok: bool
    error: str = ""


@dataclass(slots=True)
class PartnerSpec:
    """What the config says about one partner. `credentials` may be rewritten by the connector
    (a rotated refresh token, a new access token); the actor persists them when they change."""

    id: str
    kind: str
    base_url: str
    credentials: dict[str, str] = field(repr=False)   # never in a log line or an error
    options: dict[str, Any] = field(default_factory=dict)
    name: str = ""


class Connector(ABC):
    kind: ClassVar[str]
    # The partner's published limits per operation name; config may lower them.
    limits: ClassVar[Mapping[str, RateSpec]] = {}
    # Largest batch one push() should be given.
    max_push_batch: ClassVar[int] = 100
    capabilities: ClassVar[tuple[str, ...]] = ("push", "poll")
    # The one bucket a whole push spends, when there is one (a file upload): the actor waits for
    # its token before gathering the batch, so the batch holds everything that changed meanwhile.
    push_operation: ClassVar[str | None] = None
    # Partners lower what they show when they sell, and what we push may cross a sale in flight
    # (an EDI 846 written before the PO arrived): the listings an order names are pushed again once
    # it is taken, even when our desired quantity did not move (pool_percent, max_shown, buffer).
    # Without it a capped listing showed one or two too few until the next reconcile.
    restate_after_sale: ClassVar[bool] = True

    def __init__(self, spec: PartnerSpec, session: Any = None, limiter: Limiter | None = None):
        """`session` is an aiohttp.ClientSession and `limiter` holds the buckets of `rates(spec)`
        (both None when only verify_webhook is used)."""
        self.spec = spec
        self.session = session
        self.limiter: Limiter = NoLimiter() if limiter is None else limiter

    @classmethod
    def rates(cls, spec: PartnerSpec) -> Mapping[str, RateSpec]:
        """The partner's published limits per operation, as this partner's options set them."""
        return cls.limits

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Authenticate and learn the partner's ids for our SKUs (listing, inventory item, ...)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections (SFTP)."""

    @abstractmethod
    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        """Set the shown quantity of each listing, in as few calls as the API allows."""

    @abstractmethod
    async def fetch_orders(self, cursor: str | None, page_size: int) -> OrderPage:
        """Order events since `cursor` (None: from now minus the partner's look-back)."""

    @abstractmethod
    async def read_listings(self, skus: Sequence[str]) -> dict[str, int]:
        """What the partner actually shows for these SKUs (for reconciliation)."""

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        """True only when the signature over the raw body is exactly right. Pure: no network."""
        return False

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[OrderEvent]:
        """Order events in a verified delivery; may call the partner to fetch the order's lines."""
        return []

    def webhook_event_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        """The partner's id of this delivery (header or payload), for dedupe."""
        return None

    async def confirm(self, events: Sequence[OrderEvent]) -> None:  # noqa: B027 - optional hook
        """After the events are committed: acknowledge them at the partner (SQS delete, EDI 997)."""

    async def answer(self, answers: Sequence[OrderAnswer]) -> None:  # noqa: B027 - optional hook
        """After new orders committed, before confirm: what became of each line (EDI 855)."""

    async def cancel_at_partner(self, order_id: str, reason: str) -> bool:
        """Cancel an order we cannot fill (reject policy). False when the partner has no such call."""
        return False
