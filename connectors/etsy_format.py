"""Etsy Open API v3 formats, pure: Standard-Webhooks signatures, a listing's inventory read and
rewritten whole, and receipts as order events (the poll position is in etsy_cursor).

Etsy keeps many of our variants (size x colour) as products of one listing, and the only way to
change one product's quantity is to PUT the listing's whole inventory back. The GET answer is not
a valid PUT body (it carries product and offering ids, `is_deleted` flags and money objects), so
`inventory_for_put` rebuilds it; a product left out of the PUT is deleted at Etsy.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from connectors.base import OrderEvent, OrderEventKind, OrderLine

SECRET_PREFIX = "whsec_"
SIGNATURE_VERSION = "v1"
MAX_QUANTITY = 999
MAX_TIMESTAMP_DIGITS = 12   # unix seconds until the year 33658

# What the inventory PUT accepts of a property value; anything else is refused.
PROPERTY_FIELDS = frozenset({"property_id", "value_ids", "scale_id", "property_name", "values"})
# readiness_state_on_property: which properties vary the processing profile (readiness_state_id),
# which Etsy requires back on every PUT since processing profiles.
ON_PROPERTY_FIELDS = ("price_on_property", "quantity_on_property", "sku_on_property",
                      "readiness_state_on_property")

PAID_STATUSES = frozenset({"paid", "completed", "partially refunded"})
CANCELLED_STATUSES = frozenset({"canceled", "cancelled", "fully refunded"})


# --- webhooks ---------------------------------------------------------------------------------

def webhook_key(secret: str) -> bytes:
    """The HMAC key: the base64 after `whsec_` (binascii.Error when it is not base64)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


def sign_webhook(secret: str, message_id: str, timestamp: int | str, body: bytes) -> str:
    """One `webhook-signature` entry: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`."""
    return _signature(webhook_key(secret), message_id, timestamp, body)


def _signature(key: bytes, message_id: str, timestamp: int | str, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify_signature(secret: str, message_id: str, timestamp: str, signatures: str, body: bytes,
                     now: float, tolerance: float) -> bool:
    """True when any space-separated `v1,...` entry matches and the timestamp is within `tolerance`
    seconds of `now` either way (a replayed delivery carries its old, signed timestamp)."""
    if not (message_id and timestamp and signatures):
        return False
    # Standard Webhooks timestamps are ten-digit seconds; a longer one (the security review sent
    # "1" and 400 zeros) is refused before it reaches float arithmetic, which would overflow.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP_DIGITS):
        return False
    try:
        key = webhook_key(secret)
    except (ValueError, binascii.Error):
        return False
    if not key:
        return False  # no secret configured: an empty HMAC key anyone can sign with
    sent_at = int(timestamp)
    if abs(now - sent_at) > tolerance:
        return False
    expected = _signature(key, message_id, sent_at, body).encode()
    found = False
    for entry in signatures.split():
        # Compare every entry, not just until the first match: the time taken says nothing.
        found |= hmac.compare_digest(entry.encode(), expected)
    return found


def receipt_id_from_url(resource_url: str) -> str | None:
    """`.../shops/{shop_id}/receipts/{receipt_id}` -> receipt_id."""
    parts = resource_url.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "receipts" and parts[-1].isdigit():
        return parts[-1]
    return None


# --- inventory --------------------------------------------------------------------------------

def money_amount(price: Any) -> float:
    """A GET's money object `{amount, divisor}` (or a bare number) as the number PUT takes."""
    if isinstance(price, Mapping):
        return round(int(price["amount"]) / int(price.get("divisor", 100) or 100), 2)
    return float(price)


def shown_quantities(inventory: Mapping[str, Any]) -> dict[str, int]:
    """What buyers see per SKU: a disabled or deleted offering shows nothing."""
    shown: dict[str, int] = {}
    for product in _live(inventory.get("products", [])):
        sku = str(product.get("sku") or "")
        if sku:
            shown[sku] = sum(int(o.get("quantity", 0)) for o in _live(product.get("offerings", []))
                             if o.get("is_enabled", True))
    return shown


def inventory_for_put(inventory: Mapping[str, Any], quantities: Mapping[str, int]
                      ) -> tuple[dict[str, Any], set[str]]:
    """The whole inventory as the PUT takes it, with `quantities` set (clamped to 0..999), and the
    SKUs that were found in it. Every other product goes back unchanged: leaving one out deletes it."""
    products: list[dict[str, Any]] = []
    found: set[str] = set()
    for product in _live(inventory.get("products", [])):
        sku = str(product.get("sku") or "")
        new_quantity = quantities.get(sku) if sku else None
        if new_quantity is not None:
            found.add(sku)
        products.append({
            "sku": sku,
            "property_values": [{k: v for k, v in pv.items() if k in PROPERTY_FIELDS}
                                for pv in product.get("property_values", [])],
            "offerings": [_offering_for_put(o, new_quantity) for o in _live(product.get("offerings", []))],
        })
    body: dict[str, Any] = {"products": products}
    for name in ON_PROPERTY_FIELDS:
        body[name] = [int(p) for p in inventory.get(name) or []]
    if not body["quantity_on_property"] and len({_quantity(p) for p in products}) > 1:
        # Etsy keeps one quantity for the whole listing unless told which properties vary it.
        body["quantity_on_property"] = sorted(_property_ids(products))
    return body, found


def _offering_for_put(offering: Mapping[str, Any], quantity: int | None) -> dict[str, Any]:
    shown = int(offering.get("quantity", 0)) if quantity is None else min(MAX_QUANTITY, max(0, quantity))
    out = {"price": money_amount(offering["price"]), "quantity": shown,
           "is_enabled": bool(offering.get("is_enabled", True))}
    if offering.get("readiness_state_id") is not None:
        out["readiness_state_id"] = offering["readiness_state_id"]
    return out


def _live(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [item for item in items if not item.get("is_deleted")]


def _quantity(product: Mapping[str, Any]) -> int:
    return sum(int(o["quantity"]) for o in product["offerings"])


def _property_ids(products: Iterable[Mapping[str, Any]]) -> set[int]:
    return {int(pv["property_id"]) for p in products for pv in p.get("property_values", [])}


# --- receipts ---------------------------------------------------------------------------------

def receipt_lines(receipt: Mapping[str, Any]) -> tuple[OrderLine, ...]:
    """Quantities per SKU over the receipt's transactions (a transaction without a SKU is not one of
    our variants and is left out)."""
    totals: dict[str, int] = {}
    for transaction in receipt.get("transactions", []):
        sku = str(transaction.get("sku") or "")
        if sku:
            totals[sku] = totals.get(sku, 0) + int(transaction.get("quantity", 0))
    return tuple(OrderLine(sku, quantity) for sku, quantity in totals.items() if quantity > 0)


def receipt_events(receipt: Mapping[str, Any]) -> list[OrderEvent]:
    """Every event the receipt's current state implies, with ids `{receipt_id}:{kind}`: the same on
    the webhook and the polling path, and the same however late we first see the receipt (a receipt
    first seen completed still gives its CREATED before its SHIPPED)."""
    receipt_id = str(receipt["receipt_id"])
    status = str(receipt.get("status") or "").lower()
    if not (receipt.get("is_paid") or status in PAID_STATUSES):
        return []  # not paid yet (open, payment processing) or cancelled before payment
    lines = receipt_lines(receipt)
    created = _timestamp(receipt, "create_timestamp")
    updated = _timestamp(receipt, "update_timestamp") or created

    def event(kind: OrderEventKind, at: float | None) -> OrderEvent:
        return OrderEvent(f"{receipt_id}:{kind.value}", kind, receipt_id, lines, at, raw=receipt)

    events = [event(OrderEventKind.CREATED, created)]
    if status in CANCELLED_STATUSES:
        events.append(event(OrderEventKind.CANCELLED, updated))
    elif status == "completed" or receipt.get("is_shipped"):
        events.append(event(OrderEventKind.SHIPPED, updated))
    return events


def receipt_key(receipt: Mapping[str, Any]) -> str:
    """What a receipt looks like for the cursor: a status change is new even within one second."""
    return f"{receipt['receipt_id']}:{receipt.get('status', '')}:{bool(receipt.get('is_shipped'))}"


def _timestamp(receipt: Mapping[str, Any], name: str) -> float | None:
    value = receipt.get(name)
    return float(value) if value is not None else None
