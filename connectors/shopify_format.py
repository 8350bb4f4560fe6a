"""Shopify's formats, pure: the inventorySetQuantities mutation and its cost, global ids, Link-header
paging, the webhook HMAC, and REST orders read as order events (the poll position is in
shopify_cursor). No network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from connectors.base import OrderEvent, OrderEventKind, OrderLine, header

API_VERSION = "2026-04"   # changeFromQuantity and @idempotent exist, compareQuantity is gone
NOT_STOCKED = "ITEM_NOT_STOCKED_AT_LOCATION"
SET_QUANTITIES = (
    "mutation setAvailable($input: InventorySetQuantitiesInput!, $key: String!) { "
    "inventorySetQuantities(input: $input) @idempotent(key: $key) { "
    "inventoryAdjustmentGroup { id } userErrors { field message code } } }"
)
MAX_SET_QUANTITIES = 250   # quantities in one inventorySetQuantities call
MAX_LEVEL_ITEMS = 50       # inventory_item_ids in one inventory_levels.json call
MAX_PAGE = 250             # REST `limit` at most
CANCEL_REASONS = frozenset({"customer", "inventory", "fraud", "declined", "other"})
ORDER_FIELDS = "id,name,created_at,updated_at,cancelled_at,fulfillment_status,financial_status,line_items"
TOPIC_KINDS = {
    "orders/create": OrderEventKind.CREATED,
    "orders/fulfilled": OrderEventKind.SHIPPED,
    "orders/cancelled": OrderEventKind.CANCELLED,
}
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?([a-z]+)"?')
_PAGE_INFO = re.compile(r"[?&]page_info=([^&>]+)")


def set_cost(quantities: int) -> int:
    """Our model of the mutation's query cost: a base of 10 points and one per quantity set."""
    return 10 + quantities


def gid(kind: str, numeric: int | str) -> str:
    return f"gid://shopify/{kind}/{numeric}"


def set_quantities_request(levels: Sequence[tuple[int, int]], location_id: int, key: str) -> dict[str, Any]:
    """The GraphQL body setting `available` for (inventory_item_id, quantity) pairs at one location.
    changeFromQuantity is null: we are the source of truth and set absolute quantities."""
    quantities = [
        {"inventoryItemId": gid("InventoryItem", item), "locationId": gid("Location", location_id),
         "quantity": quantity, "changeFromQuantity": None}
        for item, quantity in levels
    ]
    return {
        "query": SET_QUANTITIES,
        "variables": {"input": {"name": "available", "reason": "correction", "quantities": quantities},
                      "key": key},
    }


def split_user_errors(errors: Sequence[Mapping[str, Any]]) -> tuple[dict[int, str], list[str]]:
    """userErrors as (message by index into `quantities`, messages about the request as a whole)."""
    indexed: dict[int, str] = {}
    general: list[str] = []
    for error in errors:
        message = f"{error.get('code') or 'ERROR'}: {error.get('message', '')}".rstrip(": ")
        field = [str(part) for part in error.get("field") or []]
        if len(field) >= 3 and field[:2] == ["input", "quantities"] and field[2].isdigit():
            indexed[int(field[2])] = message
        else:
            general.append(message)
    return indexed, general


def throttled_wait(answer: Mapping[str, Any]) -> float | None:
    """Seconds until the cost bucket holds this query again when the answer is THROTTLED, else None."""
    errors = answer.get("errors")
    if not isinstance(errors, list):
        return None
    if not any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors if isinstance(e, dict)):
        return None
    cost = (answer.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    rate = float(status.get("restoreRate") or 50.0)
    missing = float(cost.get("requestedQueryCost") or 0) - float(status.get("currentlyAvailable") or 0)
    return max(missing / rate, 1.0 / rate)


def graphql_error_text(answer: Mapping[str, Any]) -> str:
    errors = answer.get("errors")
    if isinstance(errors, list):
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)
    return str(errors)


def rest_error_text(payload: Any) -> str:
    """Shopify's REST errors: {"errors": "text"}, {"errors": {"field": ["text"]}} or {"error": "text"}."""
    if not isinstance(payload, dict):
        return str(payload)[:300]
    errors = payload.get("errors", payload.get("error", payload))
    if isinstance(errors, dict):
        return "; ".join(f"{field}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                         for field, v in errors.items())
    if isinstance(errors, list):
        return "; ".join(map(str, errors))
    return str(errors)


def next_page_info(link: str | None) -> str | None:
    """The page_info of the rel="next" URL in a Link header (which may also carry rel="previous")."""
    # Not split on commas: a URL's `fields=id,variants` has them too.
    for url, rel in _LINK.findall(link or ""):
        if rel == "next":
            info = _PAGE_INFO.search(url)
            return info.group(1) if info else None
    return None


def sign(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 of HMAC-SHA256 over the raw body, keyed by the app's secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def webhook_authentic(secret: str, shop_domain: str, headers: Mapping[str, str], body: bytes) -> bool:
    """The HMAC over the raw body is exact, and the delivery names our shop: one app secret signs for
    every shop the app is installed on, so the domain keeps another shop's orders out."""
    signature = header(headers, "X-Shopify-Hmac-Sha256")
    if not secret or not signature:
        return False
    shop = header(headers, "X-Shopify-Shop-Domain")
    if shop is not None and shop_domain and shop.strip().lower() != shop_domain.strip().lower():
        return False
    return hmac.compare_digest(sign(secret, body).encode(), signature.strip().encode())


def webhook_fresh(headers: Mapping[str, str], now: float, max_age: float, skew: float = 300.0) -> bool:
    """X-Shopify-Triggered-At is within `max_age` seconds before `now` (and not more than `skew`
    after it). Shopify's retries keep the first trigger time, so `max_age` must outlast its retry
    schedule (4 h); older is a replay. The header is not signed: this bounds replays of captured
    deliveries by someone who cannot change headers, and the dedupe on the id does the rest."""
    triggered = parse_time(header(headers, "X-Shopify-Triggered-At"))
    return triggered is not None and -skew <= now - triggered <= max_age


def parse_time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def format_time(seconds: float, utc_offset_minutes: int = 0) -> str:
    """Shopify's timestamps: whole seconds in the shop's time zone, e.g. 2026-01-15T10:00:00-05:00."""
    zone = UTC if not utc_offset_minutes else timezone(timedelta(minutes=utc_offset_minutes))
    return datetime.fromtimestamp(int(seconds), zone).isoformat(timespec="seconds")


def order_lines(order: Mapping[str, Any]) -> tuple[OrderLine, ...]:
    """Lines with one of our SKUs; custom items without a SKU are not stock we keep."""
    return tuple(
        OrderLine(str(line["sku"]), int(line.get("quantity") or 0))
        for line in order.get("line_items") or []
        if line.get("sku") and int(line.get("quantity") or 0) > 0
    )


def order_event(order: Mapping[str, Any], kind: OrderEventKind) -> OrderEvent:
    """One fact about an order; the id is the same whether it came by webhook or by poll."""
    at = {
        OrderEventKind.CREATED: order.get("created_at"),
        OrderEventKind.CANCELLED: order.get("cancelled_at"),
    }.get(kind, order.get("updated_at"))
    return OrderEvent(
        event_id=f"{order['id']}:{kind.value}", kind=kind, order_id=str(order["id"]),
        lines=order_lines(order), occurred_at=parse_time(at) or parse_time(order.get("updated_at")),
        raw={"name": order.get("name")},
    )


def order_events(order: Mapping[str, Any]) -> list[OrderEvent]:
    """Every fact the order's state shows, oldest first (a polled order may have moved on twice)."""
    kinds = [OrderEventKind.CREATED]
    if order.get("fulfillment_status") == "fulfilled":
        kinds.append(OrderEventKind.SHIPPED)
    if order.get("cancelled_at"):
        kinds.append(OrderEventKind.CANCELLED)
    return [order_event(order, kind) for kind in kinds]


def webhook_events(topic: str | None, order: Mapping[str, Any]) -> list[OrderEvent]:
    kind = TOPIC_KINDS.get(topic or "")
    return [order_event(order, kind)] if kind is not None else order_events(order)
