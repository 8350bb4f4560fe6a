"""What happened, in the past tense: the facts the EventHub carries after the commit that makes them
true. Each kind of fact has its topic; listeners pick the kinds they follow by type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar

from inventory.commands import VariantStock


class Topic(StrEnum):
    STOCK = "stock"
    VARIANT = "variant"
    CATALOG = "catalog"
    ALERT = "alert"
    PARTNER = "partner"


@dataclass(frozen=True, slots=True)
class StockChanged:
    """A committed batch changed this variant's stock (coalesced: the newest levels). `trace`: the W3C
    trace context (traceparent, tracestate) of the batch that made the change, while traces are on."""

    topic: ClassVar[Topic] = Topic.STOCK
    stock: VariantStock
    trace: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class VariantChanged:
    """Something shown beside a variant's stock changed (its reorder point): rows re-render."""

    topic: ClassVar[Topic] = Topic.VARIANT
    stock: VariantStock


@dataclass(frozen=True, slots=True)
class CatalogChanged:
    """Products or variants were added: whoever keeps the catalog reads it again."""

    topic: ClassVar[Topic] = Topic.CATALOG
    products: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AlertFact:
    """About one alert, named by its id and by what it is about: (kind, key)."""

    topic: ClassVar[Topic] = Topic.ALERT
    id: int
    kind: str
    key: str


@dataclass(frozen=True, slots=True)
class AlertRaised(AlertFact):
    """An alert opened (raised once per open (kind, key); repeats only count)."""

    message: str
    raised_at: float
    last_seen_at: float | None = None
    count: int = 1


@dataclass(frozen=True, slots=True)
class AlertAcknowledged(AlertFact):
    """Someone heard the alert: it closes, and the same (kind, key) may open again later."""

    acknowledged_by: str


@dataclass(frozen=True, slots=True)
class PartnerStatusChanged:
    """A partner's live sync figures (sent at most once a second per partner)."""

    topic: ClassVar[Topic] = Topic.PARTNER
    partner_id: str
    figures: Mapping[str, Any]


DomainEvent = (StockChanged | VariantChanged | CatalogChanged | AlertRaised | AlertAcknowledged
               | PartnerStatusChanged)
