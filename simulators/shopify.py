"""A Shopify shop: REST Admin API (locations, products, inventory levels, orders, cancel) with the
leaky-bucket call limit and its header, the GraphQL inventorySetQuantities mutation with query-cost
throttling and idempotency keys, and orders/* webhooks signed with the app secret.

The shown quantity of a SKU (`listings`) is its `available` at the first location; the second
location keeps its own levels, and stocks nothing until an item is activated there
(inventoryActivate). Every API call names its version in the URL: a released one is answered as
that version, a retired one as the oldest supported (Shopify falls forward), anything else 404.
Items in `immutable` may not be changed by an app (NON_MUTABLE_INVENTORY_ITEM).
Options: `retry_after` (the REST 429's Retry-After, default 2.0),
`rest_bucket`/`rest_leak` (40, 2/s) and `graphql_bucket`/`graphql_restore` (2000, 100/s) to shrink
the published limits in tests. POST /_sim/throttle {"rest": n, "graphql": n, "concurrent": n} throttles
the next n calls as if another client of the same app had spent the budget (`concurrent`: the next n
keyed mutations find their key's first attempt still running: IDEMPOTENCY_CONCURRENT_REQUEST).

This module is the shop (catalog, levels, orders and their webhooks) and the app around the APIs;
the REST endpoints are in shopify_rest and the GraphQL one in shopify_graphql.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from simulators.base import SimConfig, SimOrder, Simulator
from simulators.ratelimit import Quota
from simulators.shopify_graphql import GraphqlApi
from simulators.shopify_rest import SHOP_UTC_OFFSET, RestApi, errors_response
from simulators.shopify_schema import served_version
from simulators.shopify_wire import GRAPHQL_LIMIT, REST_LIMIT, VERSION, gid, hmac_header, shop_time

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
REST_THROTTLED = ("Exceeded 2 calls per second for api client. "
                  "Reduce request rates to resume uninterrupted service.")
VARIANTS_PER_PRODUCT = 3
SERVED_VERSION = web.RequestKey("served_version", str)


class ShopifySimulator(Simulator):
    kind = "shopify"

    def __init__(self, config: SimConfig):
        super().__init__(config)
        options = config.options
        self.rest_limit = Quota(float(options.get("rest_leak", REST_LIMIT.per_second)),
                                float(options.get("rest_bucket", REST_LIMIT.burst)))
        self.graphql_limit = Quota(float(options.get("graphql_restore", GRAPHQL_LIMIT.per_second)),
                                   float(options.get("graphql_bucket", GRAPHQL_LIMIT.burst)))
        self.retry_after = float(options.get("retry_after", 2.0))
        self.shop_domain = config.credentials.get("shop_domain", "threadcount.myshopify.com")
        self.forced: Counter[str] = Counter()
        self.locations = [{"id": 60_000_000 + self.next_id(), "name": name, "active": True}
                          for name in ("Main warehouse", "Pop-up shop")]
        self.products: list[dict[str, Any]] = []
        self.item_sku: dict[int, str] = {}
        self.variants: dict[str, dict[str, Any]] = {}
        self.rest_orders: dict[int, dict[str, Any]] = {}
        self._levels: dict[tuple[int, int], int] = {}   # at locations other than the first
        self._stocked: set[tuple[int, int]] = set()      # (item, location) pairs with a level
        self.immutable: set[int] = set()
        self.rest_api = RestApi(self)
        self.graphql_api = GraphqlApi(self)
        self._list_catalog(config.skus)

    @classmethod
    def demo_credentials(cls, partner_id: str) -> dict[str, str]:
        shop = re.sub(r"[^a-z0-9-]+", "-", partner_id.lower()).strip("-") or "threadcount"
        return {"access_token": "shpat_" + secrets.token_urlsafe(24), "app_secret": secrets.token_urlsafe(32),
                "shop_domain": f"{shop}.myshopify.com"}

    def _list_catalog(self, skus: list[str]) -> None:
        for start in range(0, len(skus), VARIANTS_PER_PRODUCT):
            product_id = 8_000_000_000 + self.next_id()
            variants = [self._variant(product_id, sku) for sku in skus[start:start + VARIANTS_PER_PRODUCT]]
            self.products.append({"id": product_id, "title": f"Product {skus[start]}", "variants": variants,
                                  "admin_graphql_api_id": gid("Product", product_id)})

    def _variant(self, product_id: int, sku: str) -> dict[str, Any]:
        variant_id, item_id = 40_000_000_000 + self.next_id(), 43_000_000_000 + self.next_id()
        variant = {"id": variant_id, "product_id": product_id, "title": sku, "sku": sku,
                   "inventory_item_id": item_id, "inventory_management": "shopify",
                   "admin_graphql_api_id": gid("ProductVariant", variant_id)}
        self.item_sku[item_id] = sku
        self._stocked.add((item_id, self.location_id))
        self.variants[sku] = variant
        return variant

    def add_variant(self, sku: str) -> None:
        """A merchant adds a product with one variant in the Shopify admin."""
        self._list_catalog([sku])

    @property
    def location_id(self) -> int:
        return int(self.locations[0]["id"])

    def level(self, item: int, location: int) -> int:
        if location == self.location_id:
            return self.listings.get(self.item_sku[item], 0)
        return self._levels.get((item, location), 0)

    def set_level(self, item: int, location: int, quantity: int) -> None:
        if location == self.location_id:
            self.listings[self.item_sku[item]] = quantity
        else:
            self._levels[(item, location)] = quantity

    def stocked_at(self, item: int, location: int) -> bool:
        return (item, location) in self._stocked

    def stock_at(self, item: int, location: int) -> None:
        self._stocked.add((item, location))

    def mutable(self, item: int) -> bool:
        return item not in self.immutable

    def location_name(self, location: int) -> str:
        return next(str(place["name"]) for place in self.locations if int(place["id"]) == location)

    def served_version(self, request: web.Request) -> str | None:
        """The API version this request is answered as (None: refuse it), kept on the request for
        the X-Shopify-API-Version header."""
        version = served_version(request.match_info.get("version", ""))
        if version is not None:
            request[SERVED_VERSION] = version
        return version

    def throttle(self, rest: int = 0, graphql: int = 0, concurrent: int = 0) -> None:
        self.forced.update(rest=rest, graphql=graphql, concurrent=concurrent)

    # --- the partner's shapes ------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> web.Response:
        return errors_response(status, message)

    def throttled_response(self, retry_after: float) -> web.Response:
        # Shopify always says 2.0: the bucket leaks 2 calls a second whatever the overflow.
        return web.json_response({"errors": REST_THROTTLED}, status=429,
                                 headers={"Retry-After": f"{self.retry_after:.1f}"})

    def app(self) -> web.Application:
        app = super().app()
        app.on_response_prepare.append(self._stamp_headers)
        return app

    async def _stamp_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        if not request.path.startswith("/admin/api/"):
            return
        if SERVED_VERSION in request:
            response.headers["X-Shopify-API-Version"] = request[SERVED_VERSION]
        if not request.path.endswith("/graphql.json"):
            level = self.bucket_level("rest")
            used = 0 if level is None else math.ceil(self.rest_limit.burst - level)
            response.headers["X-Shopify-Shop-Api-Call-Limit"] = f"{used}/{int(self.rest_limit.burst)}"

    def routes(self) -> list[web.RouteDef]:
        api, rest = "/admin/api/{version}", self.rest_api
        return [
            web.get(api + "/locations.json", self._rest(rest.locations)),
            web.get(api + "/products.json", self._rest(rest.products)),
            web.get(api + "/inventory_levels.json", self._rest(rest.inventory_levels)),
            web.get(api + "/orders.json", self._rest(rest.orders)),
            web.get(api + r"/orders/{order_id:\d+}.json", self._rest(rest.order)),
            web.post(api + r"/orders/{order_id:\d+}/cancel.json", self._rest(rest.cancel)),
            web.post(api + "/graphql.json", self.graphql_api.handle),
            web.post("/_sim/throttle", self._sim_throttle),
        ]

    def unauthorized(self, request: web.Request) -> web.Response | None:
        """Shopify's 401 when the request lacks the app's access token, else None."""
        if request.headers.get("X-Shopify-Access-Token") == self.config.credentials["access_token"]:
            return None
        self.stats["unauthorized"] += 1
        return errors_response(401, INVALID_TOKEN)

    def take_forced(self, api: str) -> bool:
        """Spend one of the throttles /_sim/throttle asked for on `api`: True when there was one."""
        if self.forced[api] <= 0:
            return False
        self.forced[api] -= 1
        self.stats["forced_throttles"] += 1
        return True

    def _rest(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            refused = self.unauthorized(request)
            if refused is None and self.served_version(request) is None:
                refused = errors_response(404, "Not Found")
            if refused is None and self.take_forced("rest"):
                refused = self.throttled_response(self.retry_after)
            refused = refused or self.over_limit("rest", self.rest_limit)
            return refused if refused is not None else await handler(request)
        return guarded

    # --- orders and webhooks -------------------------------------------------------------------

    async def record_order(self, sku: str, quantity: int) -> SimOrder:
        now = self.clock.time()
        variant = self.variants[sku]
        order_id, number = 5_000_000_000 + self.next_id(), 1001 + len(self.rest_orders)
        stamp = shop_time(now, SHOP_UTC_OFFSET)
        self.rest_orders[order_id] = order = {
            "id": order_id, "admin_graphql_api_id": gid("Order", order_id), "name": f"#{number}",
            "order_number": number, "created_at": stamp, "updated_at": stamp, "closed_at": None,
            "cancelled_at": None, "cancel_reason": None, "financial_status": "paid",
            "fulfillment_status": None, "currency": "USD",
            "line_items": [{"id": 13_000_000_000 + self.next_id(), "variant_id": variant["id"],
                            "product_id": variant["product_id"], "sku": sku, "title": variant["title"],
                            "quantity": quantity, "fulfillable_quantity": quantity}],
        }
        recorded = self.orders[str(order_id)] = SimOrder(str(order_id), sku, quantity, "created", now, now,
                                                         extra={"name": order["name"]})
        self.sell(sku, quantity)
        self._notify("orders/create", order)
        return recorded

    async def change_order(self, order: SimOrder, status: str) -> None:
        rest = self.rest_orders[int(order.order_id)]
        if rest["cancelled_at"] or rest["fulfillment_status"] == "fulfilled":
            return   # Shopify moves an order on once: a fulfilled or cancelled order stays so
        if status == "shipped":
            now = self._touch(rest, fulfillment_status="fulfilled")
            rest["closed_at"] = rest["updated_at"]
            for line in rest["line_items"]:
                line["fulfillable_quantity"] = 0
            order.status, order.updated_at = "shipped", now
            self._notify("orders/fulfilled", rest)
        elif status == "cancelled":
            self.cancel_order(rest, "customer")
        else:
            raise NotImplementedError(status)

    def cancel_order(self, rest: dict[str, Any], reason: str) -> None:
        now = self._touch(rest, cancel_reason=reason, financial_status="refunded")
        rest["cancelled_at"] = rest["closed_at"] = rest["updated_at"]
        recorded = self.orders.get(str(rest["id"]))
        if recorded is not None:
            recorded.status, recorded.updated_at = "cancelled", now
        self._notify("orders/cancelled", rest)

    def _touch(self, rest: dict[str, Any], **changes: Any) -> float:
        now = self.clock.time()
        rest.update(changes, updated_at=shop_time(now, SHOP_UTC_OFFSET))
        return now

    def _notify(self, topic: str, order: Mapping[str, Any]) -> None:
        """One delivery per event: retries and duplicates carry the same X-Shopify-Webhook-Id."""
        body = json.dumps(order).encode()
        headers = {
            "Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": hmac_header(self.config.credentials["app_secret"], body),
            "X-Shopify-Shop-Domain": self.shop_domain, "X-Shopify-API-Version": VERSION,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": f"{datetime.fromtimestamp(self.clock.time(), UTC).isoformat()[:-6]}Z",
        }
        self.stats[f"webhooks:{topic}"] += 1
        self.deliver(body, lambda _attempt_at: dict(headers))

    # --- what survives a restart (the catalog is listed again from the plan's SKUs) ---------------

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "rest_orders": list(self.rest_orders.values()),
                "levels": [[item, place, n] for (item, place), n in self._levels.items()]}

    def restore(self, saved: dict[str, Any]) -> None:
        super().restore(saved)
        self.rest_orders = {int(order["id"]): order for order in saved.get("rest_orders", [])}
        self._levels = {(int(item), int(place)): int(n) for item, place, n in saved.get("levels", [])}

    async def _sim_throttle(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            self.throttle(rest=int(data.get("rest", 0)), graphql=int(data.get("graphql", 0)),
                          concurrent=int(data.get("concurrent", 0)))
        except (ValueError, AttributeError, TypeError):
            return web.json_response(
                {"error": "body must be {\"rest\": n, \"graphql\": n, \"concurrent\": n}"}, status=400)
        return web.json_response(dict(self.forced))
