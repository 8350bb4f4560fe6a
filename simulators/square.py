"""Square for one store: OAuth refresh with expiring access tokens, the catalog's item variations,
PHYSICAL_COUNT changes ordered by occurred_at with idempotency keys, inventory counts, order search
with a cursor, order.updated and inventory.count.updated webhooks signed over the subscription's
notification URL + body (option notification_url; deliveries go to config.webhook_url, which behind
a reverse proxy is another address), Square-Version checked, and the assumed whole-API rate limit.

Choices where Square leaves room: a 429 of the limit carries Retry-After (whole seconds), a forced
one may not; a till sale cancelled
here is not restocked (Square restocks only on an itemized refund); "shipped" is a no-op, a till
sale is complete at the counter. `options`: location_id, merchant_id, rate_limit
{"rate","burst"}, page_size (catalog and counts pages, default 100), rotate_refresh_token (bool).
Test control: `throttle_next(count, retry_after)` or POST /_sim/square/throttle {"count","retry_after"}
(retry_after null: no Retry-After header).
"""

from __future__ import annotations

import functools
import json
import math
import secrets
import uuid
from typing import Any, ClassVar

from aiohttp import web

from simulators.base import SimConfig, SimOrder, Simulator
from simulators.http import json_object
from simulators.square_inventory import InventoryApi
from simulators.square_wire import (
    MOST_ORDERS,
    NEWEST_VERSION,
    SIGNATURE_HEADER,
    error_entry,
    limit_from,
    object_id,
    read_rfc3339,
    read_search_cursor,
    rfc3339,
    search_cursor,
    version_refusal,
    webhook_signature,
)


class SquareSimulator(Simulator):
    kind: ClassVar[str] = "square"

    def __init__(self, config: SimConfig):
        super().__init__(config)
        options = config.options
        self.merchant_id = str(options.get("merchant_id", object_id(config.partner_id, "merchant", size=13)))
        self.location_id = str(options.get("location_id", object_id(config.partner_id, "location", size=13)))
        self.limit = limit_from(options)
        self.newest_version = str(options.get("newest_version", NEWEST_VERSION))
        # The subscription's notification URL, which Square signs; deliveries go to config.webhook_url,
        # which in front of a reverse proxy is another address.
        self.notification_url = str(options.get("notification_url") or config.webhook_url or "")
        self.page_size = int(options.get("page_size", 100))
        self.rotate_refresh_token = bool(options.get("rotate_refresh_token", False))
        self.refresh_token = config.credentials["refresh_token"]
        self.variation_ids = {sku: object_id(config.partner_id, "variation", sku) for sku in config.skus}
        self.sku_of = {variation: sku for sku, variation in self.variation_ids.items()}
        self.counted_at: dict[str, float] = {}   # sku -> occurred_at of the count shown
        self.tokens: dict[str, float] = {}       # access token -> expiry (unix seconds)
        if config.credentials.get("access_token"):
            self.tokens[config.credentials["access_token"]] = self.clock.time() + config.token_ttl
        self.answers: dict[str, dict[str, Any]] = {}  # idempotency key -> the answer it got
        self._forced: list[float | None] = []
        self.inventory_api = InventoryApi(self)

    @classmethod
    def demo_credentials(cls, partner_id: str) -> dict[str, str]:
        return {"client_id": f"sq0idp-{secrets.token_urlsafe(16)}",
                "client_secret": f"sq0csp-{secrets.token_urlsafe(32)}",
                "refresh_token": f"EQAA{secrets.token_urlsafe(48)}",
                "signature_key": secrets.token_urlsafe(16)}

    def routes(self) -> list[web.RouteDef]:
        inventory = self.inventory_api
        return [
            web.post("/oauth2/token", self._token),
            web.get("/v2/locations", self._guarded(self._locations)),
            web.get("/v2/catalog/list", self._guarded(self._catalog)),
            web.post("/v2/inventory/changes/batch-create", self._guarded(inventory.batch_create)),
            web.post("/v2/inventory/counts/batch-retrieve", self._guarded(inventory.counts)),
            web.post("/v2/orders/search", self._guarded(self._search_orders)),
            web.get("/v2/orders/{order_id}", self._guarded(self._order)),
            web.post("/_sim/square/throttle", self._sim_throttle),
        ]

    # --- errors, limits, auth ------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> web.Response:
        return self.errors(status, [error_entry(status, message)])

    def errors(self, status: int, errors: list[dict[str, Any]]) -> web.Response:
        return web.json_response({"errors": errors}, status=status)

    def throttled_response(self, retry_after: float | None) -> web.Response:
        """Square's 429; it may carry Retry-After or not (None: not)."""
        answer = self.error_response(429, "This request was rate limited. Please retry later.")
        if retry_after is not None:
            answer.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return answer

    def throttle_next(self, count: int = 1, retry_after: float | None = 1.0) -> None:
        """Answer the next `count` API calls with 429, with this Retry-After or (None) without one."""
        self._forced.extend([retry_after] * count)

    def _guarded(self, handler: Any) -> Any:
        """Every /v2 call: the whole-API rate limit first, then Square-Version and the token."""
        async def guarded(request: web.Request) -> web.StreamResponse:
            if self._forced:
                self.stats["throttled_forced"] += 1
                return self.throttled_response(self._forced.pop(0))
            refused = self.over_limit("api", self.limit) or self._refuse(request)
            return refused or await handler(request)
        return guarded

    def _refuse(self, request: web.Request) -> web.Response | None:
        version = version_refusal(request.headers.get("Square-Version"), self.newest_version)
        if version is not None:
            self.stats["version_refused"] += 1
            return self.errors(400, [version])
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        expiry = self.tokens.get(token) if scheme == "Bearer" else None
        if expiry is None:
            return self.error_response(401, "This request could not be authorized.")
        if expiry <= self.clock.time():
            self.stats["expired_token_refused"] += 1
            expired = error_entry(401, "The access token has expired.", "ACCESS_TOKEN_EXPIRED")
            return self.errors(401, [expired])
        return None

    async def _token(self, request: web.Request) -> web.Response:
        data = await json_object(request)
        creds = self.config.credentials
        if data.get("grant_type") != "refresh_token":
            return self.errors(400, [error_entry(400, "grant_type must be refresh_token",
                                                   "INVALID_VALUE", "grant_type")])
        if data.get("client_id") != creds["client_id"] or data.get("client_secret") != creds["client_secret"]:
            return self.error_response(401, "Invalid client_id or client_secret.")
        if data.get("refresh_token") != self.refresh_token:
            return self.error_response(401, "Invalid refresh token.")
        token, expires = f"EAAA{secrets.token_urlsafe(48)}", self.clock.time() + self.config.token_ttl
        self.tokens[token] = expires
        if self.rotate_refresh_token:
            self.refresh_token = f"EQAA{secrets.token_urlsafe(48)}"
        self.stats["token_refreshes"] += 1
        return web.json_response({"access_token": token, "token_type": "bearer",
                                  "expires_at": rfc3339(expires),
                                  "merchant_id": self.merchant_id, "refresh_token": self.refresh_token})

    # --- catalog and inventory -----------------------------------------------------------------

    async def _locations(self, _request: web.Request) -> web.Response:
        store = {"id": self.location_id, "name": "SoHo store", "status": "ACTIVE", "type": "PHYSICAL",
                 "merchant_id": self.merchant_id}
        return web.json_response({"locations": [store]})

    async def _catalog(self, request: web.Request) -> web.Response:
        types = {t.strip().upper() for t in request.query.get("types", "ITEM_VARIATION").split(",")}
        objects = [self._variation(sku) for sku in self.variation_ids]
        # A variation without a SKU, as stores have (gift wrap): not one of ours.
        objects.append({"type": "ITEM_VARIATION", "id": object_id(self.config.partner_id, "wrap"),
                        "item_variation_data": {"item_id": object_id("wrap-item"), "name": "Gift wrap"}})
        if "ITEM_VARIATION" not in types:
            objects = []
        return self.page(request.query.get("cursor"), "objects", objects, self.page_size)

    def _variation(self, sku: str) -> dict[str, Any]:
        return {"type": "ITEM_VARIATION", "id": self.variation_ids[sku], "version": 1, "is_deleted": False,
                "present_at_all_locations": True,
                "item_variation_data": {"item_id": object_id(self.config.partner_id, "item", sku),
                                        "name": sku, "sku": sku, "track_inventory": True}}

    def page(self, cursor: str | None, key: str, items: list[Any], size: int) -> web.Response:
        try:
            offset = int(cursor or 0)
        except ValueError:
            return self.errors(400, [error_entry(400, "Invalid cursor", "INVALID_CURSOR", "cursor")])
        answer: dict[str, Any] = {key: items[offset:offset + size]}
        if offset + size < len(items):
            answer["cursor"] = str(offset + size)
        return web.json_response(answer)

    # --- orders --------------------------------------------------------------------------------

    async def _search_orders(self, request: web.Request) -> web.Response:
        data = await json_object(request)
        if not data.get("location_ids"):
            return self.errors(400, [error_entry(400, "location_ids is required",
                                                   "MISSING_REQUIRED_PARAMETER", "location_ids")])
        limit = max(1, min(int(data.get("limit") or 500), MOST_ORDERS))
        query = data.get("query") or {}
        window = ((query.get("filter") or {}).get("date_time_filter") or {}).get("updated_at") or {}
        start = read_rfc3339(window.get("start_at")) or -math.inf
        end = read_rfc3339(window.get("end_at")) or math.inf
        try:
            after = read_search_cursor(data.get("cursor"))
        except (ValueError, TypeError):
            return self.errors(400, [error_entry(400, "Invalid cursor", "INVALID_CURSOR", "cursor")])
        found = sorted((o.updated_at, o.order_id) for o in self.orders.values()
                       if start <= o.updated_at <= end and o.extra["location_id"] in data["location_ids"])
        found = [key for key in found if after is None or key > after]
        answer: dict[str, Any] = {"orders": [self.order_json(self.orders[oid]) for _, oid in found[:limit]]}
        if len(found) > limit:
            answer["cursor"] = search_cursor(*found[limit - 1])
        return web.json_response(answer)

    async def _order(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["order_id"])
        if order is None:
            return self.error_response(404, f"Order {request.match_info['order_id']} not found.")
        return web.json_response({"order": self.order_json(order)})

    def order_json(self, order: SimOrder) -> dict[str, Any]:
        return {"id": order.order_id, "location_id": order.extra["location_id"], "state": order.status,
                "version": order.extra["version"], "created_at": rfc3339(order.created_at),
                "updated_at": rfc3339(order.updated_at), "closed_at": rfc3339(order.extra["closed_at"]),
                "source": {"name": "Square Point of Sale"},
                "line_items": [{"uid": order.extra["line_uid"], "name": order.sku, "item_type": "ITEM",
                                "catalog_object_id": self.variation_ids[order.sku],
                                "quantity": str(order.quantity)}]}

    async def record_order(self, sku: str, quantity: int) -> SimOrder:
        """A till sale: a COMPLETED order at the store (Square sends order.updated, not created)."""
        return self.record_offline_sale(sku, quantity, age=0.0)

    def record_offline_sale(self, sku: str, quantity: int, age: float) -> SimOrder:
        """A sale the till took `age` seconds ago while offline and synced now: its times are old."""
        at = self.clock.time() - age
        order = SimOrder(object_id(self.config.partner_id, "order", uuid.uuid4().hex, size=27), sku, quantity,
                         "COMPLETED", at, at, {"location_id": self.location_id, "version": 1, "closed_at": at,
                                               "line_uid": secrets.token_urlsafe(16)})
        self.orders[order.order_id] = order
        self.sell(sku, quantity)
        self.stats["orders"] += 1
        self._notify(order)
        return order

    async def change_order(self, order: SimOrder, status: str) -> None:
        if status != "cancelled" or order.status == "CANCELED":
            return  # a till sale is complete at the counter: nothing ships
        order.status, order.updated_at = "CANCELED", self.clock.time()
        order.extra["version"] += 1
        self._notify(order)

    def _notify(self, order: SimOrder) -> None:
        self._send_event("order.updated", "order", order.order_id, {"order_updated": {
            "order_id": order.order_id, "state": order.status, "version": order.extra["version"],
            "location_id": order.extra["location_id"], "created_at": rfc3339(order.created_at),
            "updated_at": rfc3339(order.updated_at)}})
        if order.status == "COMPLETED":   # the sale took units off the shelf: the count moved too
            count = self.inventory_api.count(order.sku)
            self._send_event("inventory.count.updated", "inventory", count["catalog_object_id"],
                             {"inventory_counts": [count]})

    def _send_event(self, event_type: str, data_type: str, data_id: str, obj: dict[str, Any]) -> None:
        """One event, signed over the subscription's notification URL and the body, delivered to
        config.webhook_url (the same address, or the reverse proxy's in front of it)."""
        if not self.config.webhook_url:
            return
        now = self.clock.time()
        body = json.dumps({"merchant_id": self.merchant_id, "type": event_type,
                           "event_id": str(uuid.uuid4()), "created_at": rfc3339(now),
                           "data": {"type": data_type, "id": data_id, "object": obj}}).encode()
        sign = webhook_signature(self.config.credentials["signature_key"], self.notification_url, body)
        self.stats[f"webhooks:{event_type}"] += 1
        self.deliver(body, functools.partial(_webhook_headers, sign, rfc3339(now)), self.config.webhook_url)

    # --- what survives a restart ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "refresh_token": self.refresh_token, "tokens": self.tokens,
                "counted_at": self.counted_at, "answers": self.answers}

    def restore(self, saved: dict[str, Any]) -> None:
        super().restore(saved)
        self.refresh_token = str(saved.get("refresh_token", self.refresh_token))
        self.tokens.update(saved.get("tokens", {}))
        self.counted_at.update(saved.get("counted_at", {}))
        self.answers.update(saved.get("answers", {}))

    async def _sim_throttle(self, request: web.Request) -> web.Response:
        data = await json_object(request)
        retry_after = data.get("retry_after", 1.0)
        self.throttle_next(int(data.get("count", 1)), None if retry_after is None else float(retry_after))
        return web.json_response({"pending": len(self._forced)})


def _webhook_headers(sign: str, first_sent: str, _attempt_at: float) -> dict[str, str]:
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign,
            "square-initial-delivery-timestamp": first_sent, "square-environment": "Production"}
