"""The boutique's published API (Linden & Loom, "Shop API v2"), as its docs state it.

- Every `/api/v2` call carries `X-Api-Key: <key>`; a missing or wrong key is 401.
- `PUT /api/v2/inventory` `{"items": [{"sku": "...", "available": 12}]}`: 1 to 50 items, `available`
  a whole number from 0; no other fields. Answer 200 `{"updated": n, "rejected": [{"sku", "reason"}]}`
  (a SKU the shop does not carry is rejected, the rest are set).
- `GET /api/v2/inventory?sku=A&sku=B` (at most 100): `{"items": [{"sku", "available"}]}`.
- `GET /api/v2/orders?limit=1..100&page_token=...`: the shop's order feed, oldest change first:
  `{"orders": [{"id", "status": "paid"|"fulfilled"|"cancelled", "created_at", "updated_at",
  "items": [{"sku", "qty", "price"}]}], "next_page_token", "has_more"}`. A change to an order puts
  it in the feed again. `next_page_token` is always given (keep it to read on later); it is opaque.
- 4 requests a second, bursts of 8, per key. Over it: 429 with `Retry-After` (whole seconds).
- Errors: `{"error": {"type", "message", "param"?}}`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

MOST_ITEMS = 50
MOST_SKUS = 100
MOST_ORDERS = 100
ITEM_FIELDS = {"sku", "available"}


class Refused(Exception):
    def __init__(self, status: int, kind: str, message: str, param: str | None = None):
        super().__init__(message)
        self.status, self.kind, self.param = status, kind, param


def error(status: int, kind: str, message: str, param: str | None = None) -> web.Response:
    body: dict[str, Any] = {"type": kind, "message": message}
    if param:
        body["param"] = param
    return web.json_response({"error": body}, status=status)


def inventory_items(data: Any) -> list[tuple[str, int]]:
    """The PUT body's items, or Refused naming the field the docs say is wrong."""
    if not isinstance(data, dict) or set(data) != {"items"}:
        extra = sorted(set(data) - {"items"}) if isinstance(data, dict) else []
        raise Refused(400, "invalid_request", f"unknown field {extra[0]!r}" if extra
                      else "the body must be an object with items", extra[0] if extra else "items")
    items = data["items"]
    if not isinstance(items, list) or not 1 <= len(items) <= MOST_ITEMS:
        raise Refused(400, "invalid_request", f"items must hold 1 to {MOST_ITEMS} entries", "items")
    found = []
    for index, item in enumerate(items):
        where = f"items[{index}]"
        if not isinstance(item, dict):
            raise Refused(400, "invalid_request", "must be an object", where)
        unknown = sorted(set(item) - ITEM_FIELDS)
        if unknown:
            raise Refused(400, "invalid_request", f"unknown field {unknown[0]!r}", f"{where}.{unknown[0]}")
        sku, available = item.get("sku"), item.get("available")
        if not isinstance(sku, str) or not sku:
            raise Refused(400, "invalid_request", "sku is required", f"{where}.sku")
        if isinstance(available, bool) or not isinstance(available, int) or available < 0:
            raise Refused(400, "invalid_request", "available must be a whole number from 0",
                          f"{where}.available")
        found.append((sku, available))
    return found


def query_limit(value: str | None) -> int:
    if value is None:
        return 20
    if not value.isdigit() or not 1 <= int(value) <= MOST_ORDERS:
        raise Refused(400, "invalid_request", f"limit must be 1 to {MOST_ORDERS}", "limit")
    return int(value)
