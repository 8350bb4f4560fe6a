"""Amazon Selling Partner API formats, without the network: listing patches, JSON_LISTINGS_FEED
documents and their processing reports, ORDER_CHANGE notifications, searchOrders answers, error shapes
and the polling cursor, for AmazonConnector."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from connectors.base import Listing, OrderEvent, OrderEventKind, OrderLine
from connectors.limits import RateSpec

DEFAULT_MARKETPLACE = "ATVPDKIKX0DER"   # amazon.com
DEFAULT_PRODUCT_TYPE = "HOME_BED_AND_BATH"
LISTINGS_PATH = "/listings/2021-08-01/items"
FEEDS_PATH = "/feeds/2021-06-30"
ORDERS_PATH = "/orders/2026-01-01/orders"   # Orders API v0 goes away on 2027-03-27
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
AVAILABILITY_PATH = "/attributes/fulfillment_availability"
NOTIFICATIONS_PATH = "/notifications/v1"
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"   # the grantless token's scope
ORDER_CHANGE_PAYLOAD_VERSION = "1.0"

# The published usage plans (rate per second, burst) per SP-API operation.
LIMITS: dict[str, RateSpec] = {
    "patchListingsItem": RateSpec(5.0, 5),
    "getListingsItem": RateSpec(5.0, 5),   # PARTNERS.md: burst 5 (the model says 10)
    "searchListingsItems": RateSpec(5.0, 5),
    "createFeedDocument": RateSpec(0.5, 15),
    "createFeed": RateSpec(0.0083, 15),
    "getFeed": RateSpec(2.0, 15),
    "getFeedDocument": RateSpec(0.0222, 10),
    "searchOrders": RateSpec(0.0056, 20),
    "getOrder": RateSpec(0.5, 30),
    "getDestinations": RateSpec(1.0, 5),
    "createDestination": RateSpec(1.0, 5),
    "getSubscription": RateSpec(1.0, 5),
    "createSubscription": RateSpec(1.0, 5),
}

# The order states we act on, each with the facts it implies. An SQS queue does not keep order, so
# a Shipped notification may arrive before the Unshipped one: emitting the earlier fact too (with its
# deterministic id) lets the second arrival dedupe instead of reserving stock that already left.
# Pending (payment not yet authorised) is deliberately absent: Amazon may still drop the order, and it
# comes back as Unshipped once it is real. PartiallyShipped waits for Shipped to fulfil the lot.
_IMPLIED: dict[str, tuple[str, ...]] = {
    "Unshipped": ("Unshipped",),
    "InvoiceUnconfirmed": ("Unshipped",),
    "PartiallyShipped": ("Unshipped",),
    "Shipped": ("Unshipped", "Shipped"),
    "Canceled": ("Unshipped", "Canceled"),
}
# v2026-01-01's fulfillmentStatus in the words ORDER_CHANGE notifications (and Orders API v0) use, so
# a polled fact and a notified one get the same event id, as do facts stored before the migration.
_FULFILLMENT_STATUS = {
    "PENDING_AVAILABILITY": "PendingAvailability", "PENDING": "Pending", "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped", "SHIPPED": "Shipped", "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}
_KINDS = {
    "Unshipped": OrderEventKind.CREATED,
    "Shipped": OrderEventKind.SHIPPED,
    "Canceled": OrderEventKind.CANCELLED,
}


def iso(ts: float) -> str:
    """ISO 8601 in UTC to the second, as the Orders API writes it."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- errors and auth -----------------------------------------------------------------------------

def error_text(body: Any) -> str:
    """`{"errors":[{code,message,details}]}` as one line; anything else as it came."""
    errors = body.get("errors") if isinstance(body, Mapping) else None
    if not isinstance(errors, list) or not errors:
        return str(body)[:300]
    parts = []
    for error in errors:
        text = f"{error.get('code', '')}: {error.get('message', '')}"
        parts.append(f"{text} ({error['details']})" if error.get("details") else text)
    return "; ".join(parts)


def is_unauthorized(body: Any) -> bool:
    """The 403 that a fresh LWA token may cure (expired, revoked or malformed token)."""
    errors = body.get("errors") if isinstance(body, Mapping) else None
    return isinstance(errors, list) and any(e.get("code") == "Unauthorized" for e in errors)


# --- listings --------------------------------------------------------------------------------------

def availability_patches(quantity: int) -> list[dict[str, Any]]:
    # merge, not replace: a replace naming only the quantity would wipe the seller's handling time
    # (lead_time_to_ship_max_days) and restock_date on the same attribute.
    value = [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}]
    return [{"op": "merge", "path": AVAILABILITY_PATH, "value": value}]


def patch_body(product_type: str, quantity: int) -> dict[str, Any]:
    return {"productType": product_type, "patches": availability_patches(quantity)}


def issues_text(issues: Iterable[Mapping[str, Any]]) -> str:
    """The ERROR issues of a submission; warnings do not make it fail."""
    return "; ".join(f"{i.get('code', '')}: {i.get('message', '')}" for i in issues
                     if i.get("severity", "ERROR") == "ERROR")


def patch_outcome(answer: Mapping[str, Any]) -> str:
    """"" when patchListingsItem accepted the patch, else the partner's reason."""
    if answer.get("status") == "ACCEPTED":
        return ""
    return issues_text(answer.get("issues") or []) or f"submission {answer.get('status', 'unknown')}"


def fulfillment_quantity(item: Mapping[str, Any]) -> int | None:
    for availability in item.get("fulfillmentAvailability") or []:
        if availability.get("fulfillmentChannelCode") == "DEFAULT":
            return int(availability.get("quantity") or 0)
    return None


def feed_document(seller_id: str, product_type: str, listings: Sequence[Listing]) -> dict[str, Any]:
    """A JSON_LISTINGS_FEED document; message ids count from 1 in the listings' order."""
    messages = [{"messageId": n, "sku": listing.sku, "operationType": "PATCH", "productType": product_type,
                 "patches": availability_patches(listing.quantity)}
                for n, listing in enumerate(listings, start=1)]
    return {"header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"}, "messages": messages}


def feed_outcomes(listings: Sequence[Listing], report: Mapping[str, Any]) -> dict[str, str]:
    """The failure text per SKU from a JSON_LISTINGS_FEED processing report (absent: accepted)."""
    by_message: dict[int, list[Mapping[str, Any]]] = {}
    for issue in report.get("issues") or []:
        by_message.setdefault(int(issue.get("messageId", 0)), []).append(issue)
    failed = {}
    for n, listing in enumerate(listings, start=1):
        text = issues_text(by_message.get(n, []))
        if text:
            failed[listing.sku] = text
    return failed


# --- orders ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OrderFact:
    """An order's state as one ORDER_CHANGE notification or one searchOrders order tells it."""

    order_id: str
    status: str
    purchased_at: float
    changed_at: float
    lines: tuple[OrderLine, ...] = ()


def event_id(order_id: str, status: str) -> str:
    """The same for a notification and a poll of the same fact, so the two dedupe."""
    return f"{order_id}:{status}"


def fact_events(fact: OrderFact, raw: Mapping[str, Any]) -> list[OrderEvent]:
    """The order events a fact means; none for states we do not act on (Pending)."""
    events = []
    for status in _IMPLIED.get(fact.status, ()):
        at = fact.purchased_at if status == "Unshipped" else fact.changed_at
        events.append(OrderEvent(event_id(fact.order_id, status), _KINDS[status], fact.order_id,
                                 fact.lines, at, raw))
    return events


def actionable(status: str) -> bool:
    return status in _IMPLIED


def order_lines(items: Iterable[Mapping[str, Any]]) -> tuple[OrderLine, ...]:
    """The lines of an ORDER_CHANGE summary's OrderItems (SellerSKU, Quantity)."""
    lines = []
    for item in items:
        quantity = item.get("Quantity")
        if item.get("SellerSKU") and isinstance(quantity, int) and quantity > 0:
            lines.append(OrderLine(str(item["SellerSKU"]), quantity))
    return tuple(lines)


def notification_fact(body: str | bytes) -> tuple[str, OrderFact]:
    """(NotificationId, fact) from an ORDER_CHANGE notification; ValueError when it is not one."""
    try:
        data = json.loads(body)
        change = data["Payload"]["OrderChangeNotification"]
        summary = change["Summary"]
        notification_id = str(data["NotificationMetadata"]["NotificationId"])
        if data.get("NotificationType") != "ORDER_CHANGE":
            raise ValueError(f"not an ORDER_CHANGE notification: {data.get('NotificationType')!r}")
        trigger = change.get("OrderChangeTrigger") or {}
        changed = trigger.get("TimeOfOrderChange") or data.get("EventTime") or summary["PurchaseDate"]
        fact = OrderFact(str(change["AmazonOrderId"]), str(summary["OrderStatus"]),
                         parse_iso(summary["PurchaseDate"]), parse_iso(changed),
                         order_lines(summary.get("OrderItems") or []))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed ORDER_CHANGE notification: {exc!r}") from exc
    return notification_id, fact


def searched_fact(order: Mapping[str, Any]) -> OrderFact:
    """A fact from one searchOrders (or getOrder) order of Orders API v2026-01-01, asked for with
    includedData=FULFILLMENT; its items are always there."""
    try:
        status = str((order.get("fulfillment") or {})["fulfillmentStatus"])
        lines = []
        for item in order.get("orderItems") or []:
            sku, quantity = (item.get("product") or {}).get("sellerSku"), item.get("quantityOrdered")
            if sku and isinstance(quantity, int) and quantity > 0:
                lines.append(OrderLine(str(sku), quantity))
        return OrderFact(str(order["orderId"]), _FULFILLMENT_STATUS.get(status, status),
                         parse_iso(order["createdTime"]),
                         parse_iso(order.get("lastUpdatedTime") or order["createdTime"]), tuple(lines))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed order: {exc!r}") from exc


def merge_events(events: Iterable[OrderEvent]) -> list[OrderEvent]:
    """One event per event_id, in first-seen order, carrying every SQS receipt handle and
    NotificationId it came with (duplicates and the poll's copy of the same fact), so confirm()
    deletes them all."""
    merged: dict[str, OrderEvent] = {}
    for event in events:
        first = merged.get(event.event_id)
        if first is None:
            merged[event.event_id] = event
            continue
        raw = {**first.raw}
        for key in ("receipt_handles", "notification_ids"):
            raw[key] = tuple(dict.fromkeys((*first.raw.get(key, ()), *event.raw.get(key, ()))))
        merged[event.event_id] = replace(first, lines=first.lines or event.lines, raw=raw)
    return list(merged.values())


# --- the polling cursor ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OrdersCursor:
    """searchOrders' lastUpdatedAfter watermark, the token of a search still being paged, and the
    newest LastUpdateDate seen in it (the watermark once the paging is done)."""

    after: float
    next_token: str | None = None
    seen: float = 0.0

    def encode(self) -> str:
        return json.dumps({"after": iso(self.after), "next": self.next_token, "seen": iso(self.seen)})

    @classmethod
    def decode(cls, cursor: str | None, default_after: float) -> OrdersCursor:
        """An unreadable cursor starts over from the look-back rather than failing forever."""
        try:
            data = json.loads(cursor or "")
            after = parse_iso(data["after"])
            seen = parse_iso(data.get("seen") or data["after"])
            return cls(after, data.get("next") or None, max(after, seen))
        except (ValueError, KeyError, TypeError):
            return cls(default_after, None, default_after)

    def after_page(self, next_token: str | None, newest: float) -> OrdersCursor:
        seen = max(self.seen, newest)
        if next_token:
            return OrdersCursor(self.after, next_token, seen)
        return OrdersCursor(seen, None, seen)
