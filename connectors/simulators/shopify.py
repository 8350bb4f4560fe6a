"""A Shopify shop: REST Admin API (locations, products, inventory levels, orders, cancel) with the
leaky-bucket call limit and its header, the GraphQL inventorySetQuantities mutation with query-cost
throttling and idempotency keys, and orders/* webhooks signed with the app secret.

The shown quantity of a SKU (`listings`) is its `available` at the first location; the second
location keeps its own levels. Options: `retry_after` (the REST 429's Retry-After, default 2.0),
`rest_bucket`/`rest_leak` (40, 2/s) and `graphql_bucket`/`graphql_restore` (2000, 100/s) to shrink
the published limits in tests. POST /_sim/throttle {"rest": n, "graphql": n} throttles the next n calls
as if another client of the same app had spent the budget.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from connectors.limits import RateSpec
from connectors.shopify_format import (
    API_VERSION,
    CANCEL_REASONS,
    MAX_LEVEL_ITEMS,
    MAX_PAGE,
    MAX_SET_QUANTITIES,
    SET_QUANTITIES_NAME,
    check_set_quantities,
    format_time,
    gid,
    page_token,
    parse_time,
    read_page_token,
    set_cost,
    sign,
)
from connectors.simulators.base import SimConfig, SimOrder, Simulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Rows = Callable[[Mapping[str, str]], list[dict[str, Any]]]
REST_LIMIT = RateSpec(2.0, 40.0)
GRAPHQL_LIMIT = RateSpec(100.0, 2000.0)
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
REST_THROTTLED = ("Exceeded 2 calls per second for api client. "
                  "Reduce request rates to resume uninterrupted service.")
THROTTLED = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
SHOP_UTC_OFFSET = -300   # the shop's time zone (New York, winter): Shopify stamps orders in it
VARIANTS_PER_PRODUCT = 3
REMEMBERED_KEYS = 10_000
_OPERATION = re.compile(r"^\s*(?:mutation|query)\s+(\w+)")


class ShopifySimulator(Simulator):
    kind = "shopify"

    def __init__(self, config: SimConfig):
        super().__init__(config)
        options = config.options
        self.rest_limit = RateSpec(float(options.get("rest_leak", REST_LIMIT.rate)),
                                   float(options.get("rest_bucket", REST_LIMIT.burst)))
        self.graphql_limit = RateSpec(float(options.get("graphql_restore", GRAPHQL_LIMIT.rate)),
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
        self._replies: dict[str, tuple[str, dict[str, Any]]] = {}
        self._list_catalog(config.skus)

    @classmethod
    def demo_credentials(cls, partner_id: str) -> dict[str, str]:
        shop = re.sub(r"[^a-z0-9-]+", "-", partner_id.lower()).strip("-") or "threadcount"
        return {"access_token": "shpat_" + secrets.token_urlsafe(24), "app_secret": secrets.token_urlsafe(32),
                "shop_domain": f"{shop}.myshopify.com"}

    def _list_catalog(self, skus: list[str]) -> None:
        for start in range(0, len(skus), VARIANTS_PER_PRODUCT):
            product_id = 8_000_000_000 + self.next_id()
            variants = []
            for sku in skus[start:start + VARIANTS_PER_PRODUCT]:
                variant_id, item_id = 40_000_000_000 + self.next_id(), 43_000_000_000 + self.next_id()
                variants.append({"id": variant_id, "product_id": product_id, "title": sku, "sku": sku,
                                 "inventory_item_id": item_id, "inventory_management": "shopify",
                                 "admin_graphql_api_id": gid("ProductVariant", variant_id)})
                self.item_sku[item_id] = sku
                self.variants[sku] = variants[-1]
            self.products.append({"id": product_id, "title": f"Product {skus[start]}", "variants": variants,
                                  "admin_graphql_api_id": gid("Product", product_id)})

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

    def throttle(self, rest: int = 0, graphql: int = 0) -> None:
        self.forced.update(rest=rest, graphql=graphql)

    # --- the partner's shapes ------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> web.Response:
        return _errors(status, message)

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
        response.headers["X-Shopify-API-Version"] = request.match_info.get("version", API_VERSION)
        if not request.path.endswith("/graphql.json"):
            level = self.bucket_level("rest")
            used = 0 if level is None else math.ceil(self.rest_limit.burst - level)
            response.headers["X-Shopify-Shop-Api-Call-Limit"] = f"{used}/{int(self.rest_limit.burst)}"

    def routes(self) -> list[web.RouteDef]:
        api = "/admin/api/{version}"
        return [
            web.get(api + "/locations.json", self._rest(self._locations)),
            web.get(api + "/products.json", self._rest(self._products)),
            web.get(api + "/inventory_levels.json", self._rest(self._inventory_levels)),
            web.get(api + "/orders.json", self._rest(self._orders)),
            web.get(api + r"/orders/{order_id:\d+}.json", self._rest(self._order)),
            web.post(api + r"/orders/{order_id:\d+}/cancel.json", self._rest(self._cancel)),
            web.post(api + "/graphql.json", self._graphql),
            web.post("/_sim/throttle", self._sim_throttle),
        ]

    def _unauthorized(self, request: web.Request) -> web.Response | None:
        if request.headers.get("X-Shopify-Access-Token") == self.config.credentials["access_token"]:
            return None
        self.stats["unauthorized"] += 1
        return _errors(401, INVALID_TOKEN)

    def _forced(self, api: str) -> bool:
        if self.forced[api] <= 0:
            return False
        self.forced[api] -= 1
        self.stats["forced_throttles"] += 1
        return True

    def _rest(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            refused = self._unauthorized(request)
            if refused is None and self._forced("rest"):
                refused = self.throttled_response(self.retry_after)
            refused = refused or self.over_limit("rest", self.rest_limit)
            return refused if refused is not None else await handler(request)
        return guarded

    # --- REST ----------------------------------------------------------------------------------

    async def _locations(self, _request: web.Request) -> web.Response:
        return web.json_response({"locations": [
            {**place, "admin_graphql_api_id": gid("Location", place["id"])} for place in self.locations
        ]})

    async def _products(self, request: web.Request) -> web.Response:
        return self._page(request, "products", lambda _filters: self.products, ())

    async def _inventory_levels(self, request: web.Request) -> web.Response:
        try:
            items = _ids(request.query.get("inventory_item_ids"))
            places = _ids(request.query.get("location_ids"))
        except ValueError:
            return _errors(400, {"inventory_item_ids": ["must be comma-separated ids"]})
        if items is None and places is None:
            return _errors(422, "inventory_item_ids or location_ids: one of them is required")
        if items is not None and len(items) > MAX_LEVEL_ITEMS:
            return _errors(422, {"inventory_item_ids": [f"at most {MAX_LEVEL_ITEMS} ids"]})
        known = [int(location["id"]) for location in self.locations]
        levels = [
            {"inventory_item_id": item, "location_id": location, "available": self.level(item, location),
             "updated_at": format_time(time.time(), SHOP_UTC_OFFSET),
             "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}"}
            for item in (items if items is not None else list(self.item_sku)) if item in self.item_sku
            for location in (places if places is not None else known) if location in known
        ]
        return web.json_response({"inventory_levels": levels[:_limit(request.query) or MAX_PAGE]})

    async def _orders(self, request: web.Request) -> web.Response:
        return self._page(request, "orders", self._order_rows, ("status", "updated_at_min"))

    def _order_rows(self, filters: Mapping[str, str]) -> list[dict[str, Any]]:
        status = filters.get("status", "open")
        if status not in ("open", "closed", "cancelled", "any"):
            raise ValueError("status: must be open, closed, cancelled or any")
        since = parse_time(filters["updated_at_min"]) if "updated_at_min" in filters else 0.0
        if since is None:
            raise ValueError("updated_at_min: is not a valid ISO 8601 time")
        return [order for _, order in sorted(self.rest_orders.items())
                if (parse_time(order["updated_at"]) or 0.0) >= since and _has_status(order, status)]

    async def _order(self, request: web.Request) -> web.Response:
        order = self.rest_orders.get(int(request.match_info["order_id"]))
        if order is None:
            return _errors(404, "Not Found")
        return web.json_response({"order": _project(order, request.query.get("fields"))})

    async def _cancel(self, request: web.Request) -> web.Response:
        order = self.rest_orders.get(int(request.match_info["order_id"]))
        if order is None:
            return _errors(404, "Not Found")
        try:
            reason = (await request.json() if request.can_read_body else {}).get("reason", "other")
        except (ValueError, AttributeError):
            return _errors(400, "body must be a JSON object")
        if reason not in CANCEL_REASONS:
            return _errors(422, {"reason": ["is not included in the list"]})
        if order["cancelled_at"]:
            return _errors(422, {"base": ["Order has already been cancelled"]})
        if order["fulfillment_status"] == "fulfilled":
            return _errors(422, {"base": ["Cannot cancel an order that has been fulfilled"]})
        self._cancel_order(order, reason)
        return web.json_response({"order": order})

    def _page(self, request: web.Request, key: str, rows_for: Rows,
              filter_names: tuple[str, ...]) -> web.Response:
        """Shopify's cursor paging: filters only on the first request, then page_info (which carries
        them) with at most limit and fields beside it; Link names the next page."""
        query = request.query
        limit = _limit(query)
        if limit is None:
            return _errors(400, {"limit": [f"must be between 1 and {MAX_PAGE}"]})
        state: dict[str, Any] = {"filters": {name: query[name] for name in filter_names if name in query}}
        if "page_info" in query:
            extra = sorted(set(query) - {"page_info", "limit", "fields"})
            found = read_page_token(query["page_info"])
            if extra or found is None or not isinstance(found.get("after"), int):
                detail = f"{', '.join(extra)} cannot be passed with page_info" if extra else "Invalid value."
                return _errors(400, {"page_info": [detail]})
            state = found
        try:
            rows = rows_for(state.get("filters") or {})
        except ValueError as exc:
            return _errors(400, str(exc))
        later = [row for row in rows if row["id"] > (state.get("after") or 0)]
        window = later[:limit]
        body = {key: [_project(row, query.get("fields")) for row in window]}
        if len(later) <= limit:
            return web.json_response(body)
        # Only the next page is linked here; Shopify also links the previous one, which we never follow.
        return web.json_response(body, headers={"Link": _link(request, {**state, "after": window[-1]["id"]})})

    # --- GraphQL -------------------------------------------------------------------------------

    async def _graphql(self, request: web.Request) -> web.Response:
        refused = self._unauthorized(request)
        if refused is not None:
            return refused
        try:
            body = await request.json()
            query, variables = str(body["query"]), dict(body.get("variables") or {})
        except (ValueError, KeyError, TypeError):
            return _errors(400, {"query": "Required parameter missing or invalid"})
        problem = _unanswerable(body.get("operationName") or next(iter(_OPERATION.findall(query)), None),
                                query, variables)
        if problem is not None:
            return problem
        cost = set_cost(len(variables["input"].get("quantities") or []))
        if self._forced("graphql"):
            return web.json_response({"errors": [THROTTLED], "extensions": self._cost(cost, 0, available=0)})
        if self.over_limit("graphql", self.graphql_limit, cost) is not None:
            return web.json_response({"errors": [THROTTLED], "extensions": self._cost(cost, 0)})
        payload = self._set_quantities(variables["key"], variables["input"])
        return web.json_response({"data": {"inventorySetQuantities": payload},
                                  "extensions": self._cost(cost, cost)})

    def _cost(self, requested: int, actual: int, available: float | None = None) -> dict[str, Any]:
        level = self.bucket_level("graphql") if available is None else available
        burst = self.graphql_limit.burst
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": {
            "maximumAvailable": burst, "currentlyAvailable": int(burst if level is None else level),
            "restoreRate": self.graphql_limit.rate}}}

    def _set_quantities(self, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Applied once per idempotency key; a replay gets the first answer back unchanged."""
        fingerprint = json.dumps(data, sort_keys=True)
        if key in self._replies:
            first, answer = self._replies[key]
            if first == fingerprint:
                self.stats["idempotent_replays"] += 1
                return answer
            return {"inventoryAdjustmentGroup": None, "userErrors": [{
                "field": None, "code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                "message": "The same idempotency key cannot be used with different operation parameters."}]}
        changes, errors = check_set_quantities(data, self.item_sku, {int(x["id"]) for x in self.locations},
                                               self.level)
        if errors:
            answer = {"inventoryAdjustmentGroup": None, "userErrors": errors}
        else:
            for item, location, quantity in changes:
                self.set_level(item, location, quantity)
            self.stats["quantities_set"] += len(changes)
            answer = {"inventoryAdjustmentGroup": {"id": gid("InventoryAdjustmentGroup", self.next_id())},
                      "userErrors": []}
        self._replies[key] = (fingerprint, answer)
        if len(self._replies) > REMEMBERED_KEYS:
            del self._replies[next(iter(self._replies))]
        return answer

    # --- orders and webhooks -------------------------------------------------------------------

    async def record_order(self, sku: str, quantity: int) -> SimOrder:
        now = time.time()
        variant = self.variants[sku]
        order_id, number = 5_000_000_000 + self.next_id(), 1001 + len(self.rest_orders)
        stamp = format_time(now, SHOP_UTC_OFFSET)
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
            self._cancel_order(rest, "customer")
        else:
            raise NotImplementedError(status)

    def _cancel_order(self, rest: dict[str, Any], reason: str) -> None:
        now = self._touch(rest, cancel_reason=reason, financial_status="refunded")
        rest["cancelled_at"] = rest["closed_at"] = rest["updated_at"]
        recorded = self.orders.get(str(rest["id"]))
        if recorded is not None:
            recorded.status, recorded.updated_at = "cancelled", now
        self._notify("orders/cancelled", rest)

    def _touch(self, rest: dict[str, Any], **changes: Any) -> float:
        now = time.time()
        rest.update(changes, updated_at=format_time(now, SHOP_UTC_OFFSET))
        return now

    def _notify(self, topic: str, order: Mapping[str, Any]) -> None:
        """One delivery per event: retries and duplicates carry the same X-Shopify-Webhook-Id."""
        body = json.dumps(order).encode()
        headers = {
            "Content-Type": "application/json", "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(self.config.credentials["app_secret"], body),
            "X-Shopify-Shop-Domain": self.shop_domain, "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        self.stats[f"webhooks:{topic}"] += 1
        self.deliver(body, lambda _attempt_at: dict(headers))

    async def _sim_throttle(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            self.throttle(rest=int(data.get("rest", 0)), graphql=int(data.get("graphql", 0)))
        except (ValueError, AttributeError, TypeError):
            return web.json_response({"error": "body must be {\"rest\": n, \"graphql\": n}"}, status=400)
        return web.json_response(dict(self.forced))


def _errors(status: int, errors: Any) -> web.Response:
    return web.json_response({"errors": errors}, status=status)


def _graphql_errors(message: str, code: str | None = None) -> web.Response:
    error: dict[str, Any] = {"message": message}
    if code:
        error["extensions"] = {"code": code}
    return web.json_response({"errors": [error]})


def _unanswerable(name: str | None, query: str, variables: Mapping[str, Any]) -> web.Response | None:
    """The errors GraphQL gives before running anything (the simulator knows one mutation by name)."""
    if name != SET_QUANTITIES_NAME or "inventorySetQuantities" not in query:
        return _graphql_errors(f"simulator: only the {SET_QUANTITIES_NAME} mutation is understood")
    if not isinstance(variables.get("key"), str) or not variables["key"]:
        return _graphql_errors("Variable $key of type String! was provided invalid value", "INVALID_VARIABLE")
    if not isinstance(variables.get("input"), dict):
        return _graphql_errors("Variable $input of type InventorySetQuantitiesInput! was provided invalid "
                               "value", "INVALID_VARIABLE")
    count = len(variables["input"].get("quantities") or [])
    if count > MAX_SET_QUANTITIES:
        return _graphql_errors(f"The input array size of {count} is greater than the maximum allowed of "
                               f"{MAX_SET_QUANTITIES}.", "MAX_INPUT_SIZE_EXCEEDED")
    return None


def _ids(text: str | None) -> list[int] | None:
    return None if text is None else [int(part) for part in text.split(",") if part.strip()]


def _limit(query: Mapping[str, str]) -> int | None:
    try:
        limit = int(query.get("limit", "50"))
    except ValueError:
        return None
    return limit if 1 <= limit <= MAX_PAGE else None


def _has_status(order: Mapping[str, Any], status: str) -> bool:
    return {"open": not order["closed_at"] and not order["cancelled_at"], "closed": bool(order["closed_at"]),
            "cancelled": bool(order["cancelled_at"]), "any": True}[status]


def _project(row: Mapping[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return dict(row)
    wanted = {name.strip() for name in fields.split(",")}
    return {name: value for name, value in row.items() if name in wanted}


def _link(request: web.Request, state: Mapping[str, Any]) -> str:
    query = {"limit": request.query.get("limit", "50"), "page_info": page_token(state)}
    if "fields" in request.query:
        query["fields"] = request.query["fields"]
    return f'<{request.url.with_query(query)}>; rel="next"'
