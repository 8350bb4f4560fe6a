"""Square's formats, without the network: webhook signatures, inventory change batches, order
events and the orders/search body, for SquareConnector (the poll position is in square_cursor)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.base import Listing, OrderEvent, OrderEventKind, OrderLine, PushResult
from connectors.limits import RateSpec

SQUARE_VERSION = "2026-08-19"
SIGNATURE_HEADER = "x-square-hmacsha256-signature"
MAX_CHANGES = 100          # batch-create takes at most 100 changes a call
MAX_ORDERS_PAGE = 1000     # orders/search answers at most 1000 orders a page
# Square publishes no rate limits; this is our assumption for the whole API, which the connector
# keeps under.
ASSUMED_LIMIT = RateSpec(10.0, 20.0)

# A completed order that had a pickup or shipment fulfillment was open first (we reserved it on
# CREATED), so its completion is a shipment; a till sale has no fulfillment and is a SALE.
_SHIPPED_FULFILLMENTS = {"PICKUP", "SHIPMENT", "DELIVERY"}


def iso(ts: float) -> str:
    """RFC 3339 in UTC with milliseconds, as Square writes it."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def quantity_of(text: Any) -> int:
    """Square's decimal quantity string ("2", "2.0") as whole units; junk raises ValueError."""
    try:
        return int(Decimal(str(text)))
    except InvalidOperation as exc:
        raise ValueError(f"not a quantity: {text!r}") from exc


# --- webhooks ------------------------------------------------------------------------------------

def signature(signature_key: str, notification_url: str, body: bytes) -> str:
    """base64(HMAC-SHA256(signature key, notification URL + raw body))."""
    digest = hmac.new(signature_key.encode(), notification_url.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_ok(signature_key: str, notification_url: str, body: bytes, given: str | None) -> bool:
    if not signature_key or not given:
        return False
    return hmac.compare_digest(signature(signature_key, notification_url, body).encode(), given.encode())


def delivery_fresh(body: bytes, now: float, max_age: float, skew: float) -> bool:
    """True when the envelope's created_at is within `max_age` before now (and not more than
    `skew` ahead): an older, correctly signed delivery is a replay. No readable created_at: False."""
    try:
        created_at = parse_iso(str(json.loads(body)["created_at"]))
    except (ValueError, TypeError, KeyError, OverflowError):
        return False
    return now - max_age <= created_at <= now + skew


def webhook_order(envelope: Mapping[str, Any]) -> tuple[str, str, str | None] | None:
    """(order id, state, location id) of an order.created/order.updated delivery; None for other
    types (inventory.count.updated tells us nothing the order does not)."""
    if envelope.get("type") not in ("order.updated", "order.created"):
        return None
    data = envelope.get("data") or {}
    obj = data.get("object") or {}
    update = obj.get("order_updated") or obj.get("order_created") or {}
    order_id = update.get("order_id") or data.get("id")
    state = update.get("state")
    if not order_id or not state:
        return None
    location = update.get("location_id")
    return str(order_id), str(state), str(location) if location else None


# --- inventory -----------------------------------------------------------------------------------

def physical_counts(listings: Sequence[Listing], ids: Mapping[str, str], location_id: str,
                    occurred_at: float) -> list[dict[str, Any]]:
    """One PHYSICAL_COUNT change per listing whose SKU has a catalog id (quantities as strings)."""
    when = iso(occurred_at)
    return [
        {"type": "PHYSICAL_COUNT", "physical_count": {
            "catalog_object_id": ids[listing.sku], "state": "IN_STOCK", "location_id": location_id,
            "quantity": str(max(0, listing.quantity)), "occurred_at": when}}
        for listing in listings if listing.sku in ids
    ]


def change_index(error: Mapping[str, Any]) -> int | None:
    """The change an error is about, from its `field` ("changes[3].physical_count.quantity")."""
    field = str(error.get("field") or "")
    if not field.startswith("changes["):
        return None
    digits = field[len("changes["):].split("]", 1)[0]
    return int(digits) if digits.isdigit() else None


def error_text(error: Mapping[str, Any]) -> str:
    parts = [str(error.get(key)) for key in ("category", "code", "detail") if error.get(key)]
    if error.get("field"):
        parts.append(f"field {error['field']}")
    return ": ".join(parts) or "unknown Square error"


def errors_text(payload: Mapping[str, Any]) -> str:
    errors = payload.get("errors") or []
    return "; ".join(error_text(error) for error in errors) or "no error detail"


def push_results(skus: Sequence[str], payload: Mapping[str, Any]) -> list[PushResult]:
    """Per-change results of a batch-create answer (`skus[i]` is change i). An error naming no
    change fails the whole batch: Square applies a batch with such an error not at all."""
    failed: dict[int, list[str]] = {}
    whole: list[str] = []
    for error in payload.get("errors") or []:
        index = change_index(error)
        if index is None or not 0 <= index < len(skus):
            whole.append(error_text(error))
        else:
            failed.setdefault(index, []).append(error_text(error))
    return [
        PushResult(sku, False, "; ".join(whole or failed[i])) if whole or i in failed
        else PushResult(sku, True)
        for i, sku in enumerate(skus)
    ]


def shown_quantities(counts: Iterable[Mapping[str, Any]], sku_of: Mapping[str, str],
                     location_id: str) -> dict[str, int]:
    shown: dict[str, int] = {}
    for count in counts:
        sku = sku_of.get(str(count.get("catalog_object_id")))
        if sku is None or count.get("location_id") != location_id or count.get("state") != "IN_STOCK":
            continue
        shown[sku] = quantity_of(count.get("quantity", "0"))
    return shown


# --- orders --------------------------------------------------------------------------------------

def event_kind(order: Mapping[str, Any], state: str | None = None) -> OrderEventKind | None:
    state = state or str(order.get("state", ""))
    if state == "OPEN":
        return OrderEventKind.CREATED
    if state == "CANCELED":
        return OrderEventKind.CANCELLED
    if state != "COMPLETED":
        return None  # DRAFT orders are not sales yet
    fulfilled = {str(f.get("type")) for f in order.get("fulfillments") or []}
    return OrderEventKind.SHIPPED if fulfilled & _SHIPPED_FULFILLMENTS else OrderEventKind.SALE


def order_lines(order: Mapping[str, Any], sku_of: Mapping[str, str]) -> tuple[OrderLine, ...]:
    """Our SKUs' lines, summed per SKU; custom-amount lines and other catalog items are not ours."""
    totals: dict[str, int] = {}
    for item in order.get("line_items") or []:
        sku = sku_of.get(str(item.get("catalog_object_id")))
        if sku is not None:
            totals[sku] = totals.get(sku, 0) + quantity_of(item.get("quantity", "0"))
    return tuple(OrderLine(sku, qty) for sku, qty in totals.items() if qty > 0)


def order_event(order: Mapping[str, Any], sku_of: Mapping[str, str],
                state: str | None = None) -> OrderEvent | None:
    """The event for an order in `state` (default: its current one). The id is f"{order}:{kind}"
    on both the webhook and the polling path, so one fact dedupes. None when nothing of ours."""
    kind = event_kind(order, state)
    lines = order_lines(order, sku_of)
    if kind is None or not lines:
        return None
    order_id = str(order["id"])
    stamp = order.get("closed_at") if kind is not OrderEventKind.CREATED else None
    stamp = stamp or order.get("updated_at") or order.get("created_at")
    return OrderEvent(f"{order_id}:{kind.value}", kind, order_id, lines,
                      parse_iso(stamp) if stamp else None, raw={"version": order.get("version")})


def search_body(location_id: str, start_at: float, cursor: str | None, limit: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "location_ids": [location_id],
        "limit": max(1, min(limit, MAX_ORDERS_PAGE)),
        "query": {"filter": {"date_time_filter": {"updated_at": {"start_at": iso(start_at)}}},
                  "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}},
    }
    if cursor:
        body["cursor"] = cursor
    return body


def configured_limit(options: Mapping[str, Any], default: RateSpec) -> RateSpec:
    """The assumed whole-API limit, or `options["rate_limit"]` = {"rate": per second, "burst": n}."""
    given = options.get("rate_limit") or {}
    return RateSpec(float(given.get("rate", default.rate)), float(given.get("burst", default.burst)))
