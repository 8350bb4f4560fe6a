"""A small boutique's own REST API (simulators/boutique_wire states it as the boutique publishes
it): API-key auth, a batch inventory PUT, an inventory read, an order feed read with an opaque page
token, and 429 with Retry-After over 4 requests a second. Threadcount reaches it through nothing but
its config.yaml entry (`kind: rest`); this simulator knows nothing of that entry.

Orders are polled, never pushed. `options`: rate_limit {"rate", "burst"}. Test control:
POST /_sim/boutique/throttle {"count", "retry_after"} answers the next calls 429;
POST /_sim/boutique/orders {"items": [...]} records an order with lines exactly as given (a line
the shop's own admin typed badly)."""

from __future__ import annotations

import math
import secrets
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiohttp import web

from simulators.base import SimConfig, SimOrder, Simulator
from simulators.boutique_wire import MOST_SKUS, Refused, error, inventory_items, query_limit
from simulators.http import json_object, opaque_token, read_opaque_token
from simulators.ratelimit import Quota

ORDER_QUERY = {"limit", "page_token"}


class BoutiqueSimulator(Simulator):
    kind: ClassVar[str] = "boutique"

    def __init__(self, config: SimConfig):
        super().__init__(config)
        limit = config.options.get("rate_limit") or {}
        self.quota = Quota(float(limit.get("rate", 4)), float(limit.get("burst", 8)))
        self.api_key = config.credentials["api_key"]
        self.feed: list[str] = []   # order ids, once per change, oldest first
        self._forced: list[float] = []

    @classmethod
    def demo_credentials(cls, partner_id: str) -> dict[str, str]:
        return {"api_key": f"ll_live_{secrets.token_urlsafe(24)}"}

    def routes(self) -> list[web.RouteDef]:
        return [
            web.put("/api/v2/inventory", self._guarded(self._set_inventory)),
            web.get("/api/v2/inventory", self._guarded(self._inventory)),
            web.get("/api/v2/orders", self._guarded(self._orders)),
            web.post("/_sim/boutique/throttle", self._sim_throttle),
            web.post("/_sim/boutique/orders", self._sim_raw_order),
        ]

    def error_response(self, status: int, message: str) -> web.Response:
        return error(status, "api_error", message)

    def throttled_response(self, retry_after: float) -> web.Response:
        answer = error(429, "rate_limited", "Too many requests; slow down.")
        answer.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return answer

    def _guarded(self, handler: Any) -> Any:
        async def guarded(request: web.Request) -> web.StreamResponse:
            if request.headers.get("X-Api-Key") != self.api_key:
                return error(401, "authentication_error", "a valid X-Api-Key header is required")
            if self._forced:
                self.stats["throttled_forced"] += 1
                return self.throttled_response(self._forced.pop(0))
            refused = self.over_limit("api", self.quota)
            if refused is not None:
                return refused
            try:
                return await handler(request)
            except Refused as exc:
                return error(exc.status, exc.kind, str(exc), exc.param)
        return guarded

    async def _set_inventory(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
        except ValueError:
            data = None
        items = inventory_items(data)
        rejected = [{"sku": sku, "reason": "unknown_sku"} for sku, _ in items if sku not in self.listings]
        for sku, available in items:
            if sku in self.listings:
                self.listings[sku] = available
        self.stats["inventory_puts"] += 1
        return web.json_response({"updated": len(items) - len(rejected), "rejected": rejected})

    async def _inventory(self, request: web.Request) -> web.Response:
        skus = request.query.getall("sku", [])
        if len(skus) > MOST_SKUS:
            raise Refused(400, "invalid_request", f"at most {MOST_SKUS} sku parameters", "sku")
        return web.json_response({"items": [{"sku": sku, "available": self.listings[sku]}
                                            for sku in skus if sku in self.listings]})

    async def _orders(self, request: web.Request) -> web.Response:
        unknown = sorted(set(request.query) - ORDER_QUERY)
        if unknown:
            raise Refused(400, "invalid_request", f"unknown parameter {unknown[0]!r}", unknown[0])
        limit = query_limit(request.query.get("limit"))
        start = self._position(request.query.get("page_token"))
        page = self.feed[start:start + limit]
        after = start + len(page)
        return web.json_response({"orders": [self._order_json(self.orders[i]) for i in page],
                                  "next_page_token": opaque_token({"at": after}),
                                  "has_more": after < len(self.feed)})

    def _position(self, token: str | None) -> int:
        if token is None:
            return 0
        try:
            at = read_opaque_token(token)["at"]
        except (ValueError, KeyError, TypeError):
            raise Refused(400, "invalid_request", "page_token is not one we gave", "page_token") from None
        if not isinstance(at, int) or not 0 <= at <= len(self.feed):
            raise Refused(400, "invalid_request", "page_token is not one we gave", "page_token")
        return at

    def _order_json(self, order: SimOrder) -> dict[str, Any]:
        items = order.extra.get("items") or [{"sku": order.sku, "qty": order.quantity, "price": "49.00"}]
        return {"id": order.order_id, "status": order.status, "created_at": _iso(order.created_at),
                "updated_at": _iso(order.updated_at), "items": items}

    async def record_order(self, sku: str, quantity: int) -> SimOrder:
        return self._record(sku, quantity, {})

    def _record(self, sku: str, quantity: int, extra: dict[str, Any]) -> SimOrder:
        now = self.clock.time()
        order = SimOrder(f"LL-{1000 + self.next_id()}", sku, quantity, "paid", now, now, extra)
        self.orders[order.order_id] = order
        if sku in self.listings and quantity > 0:
            self.sell(sku, quantity)
        self.feed.append(order.order_id)
        self.stats["orders"] += 1
        return order

    async def change_order(self, order: SimOrder, status: str) -> None:
        order.status = "fulfilled" if status == "shipped" else "cancelled"
        order.updated_at = self.clock.time()
        self.feed.append(order.order_id)

    def throttle_next(self, count: int = 1, retry_after: float = 1.0) -> None:
        self._forced.extend([retry_after] * count)

    async def _sim_throttle(self, request: web.Request) -> web.Response:
        data = await json_object(request)
        self.throttle_next(int(data.get("count", 1)), float(data.get("retry_after", 1.0)))
        return web.json_response({"queued": len(self._forced)})

    async def _sim_raw_order(self, request: web.Request) -> web.Response:
        items = (await json_object(request)).get("items")
        if not isinstance(items, list) or not items:
            return error(400, "invalid_request", "items: a non-empty list of lines", "items")
        first = items[0] if isinstance(items[0], dict) else {}
        order = self._record(str(first.get("sku", "")), 0, {"items": items})
        return web.json_response({"order_id": order.order_id})


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
