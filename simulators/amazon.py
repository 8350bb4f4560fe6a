"""Amazon's Selling Partner API, simulated: LWA tokens, listings (patch, get, search),
JSON_LISTINGS_FEED with documents behind presigned "S3" URLs this server also serves, the Orders API
with NextToken paging, and ORDER_CHANGE notifications in a small SQS-like queue the connector polls.
Every operation has its own server allowance at the published usage plan (amazon_wire.USAGE_PLANS).

Options (config.options): marketplace_id (ATVPDKIKX0DER), queue ("order-change"), feed_seconds (0.2, a
feed's processing time), notifications (True; False leaves orders to getOrders polling),
visibility_timeout (30, when the receive names none). `config.duplicate_rate` is the share of
notifications SQS delivers twice. `POST /_sim/tokens/expire` expires every access token now.

This module is the app (routes, auth, LWA) and the orders; the listings, the feeds and the queue
are in amazon_listings, amazon_feeds and amazon_queue.
"""

from __future__ import annotations

import json
import math
import random
import secrets
import string
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from simulators import amazon_wire as wire
from simulators.amazon_feeds import FeedsApi
from simulators.amazon_listings import ListingsApi, asin, pack_token, unpack_token
from simulators.amazon_queue import NotificationQueue, QueueApi
from simulators.base import SimConfig, SimOrder, Simulator
from simulators.http import whole_number

Handler = Callable[[web.Request], Awaitable[web.Response]]
_EXPIRED = "The access token you provided has expired."
_INVALID = "The access token you provided is revoked, malformed or invalid."
_CODES = {400: "InvalidInput", 403: "Unauthorized", 404: "NotFound", 413: "RequestTooLarge",
          500: "InternalFailure", 503: "ServiceUnavailable"}
_STATUSES = {"shipped": "Shipped", "cancelled": "Canceled"}
_OrdersQuery = tuple[str, float, int, tuple[int, str] | None]


class AmazonSimulator(Simulator):
    kind = "amazon"

    def __init__(self, config: SimConfig):
        super().__init__(config)
        options = config.options
        self.marketplace = str(options.get("marketplace_id", wire.MARKETPLACE_US))
        self.queue_name = str(options.get("queue", "order-change"))
        self.feed_seconds = float(options.get("feed_seconds", 0.2))
        self.notifications = bool(options.get("notifications", True))
        self.visibility_timeout = float(options.get("visibility_timeout", 30))
        self.queue = NotificationQueue(self.clock)
        self.tokens: dict[str, float] = {}            # access token -> monotonic expiry
        self.listings_api = ListingsApi(self)
        self.feeds_api = FeedsApi(self)
        self.queue_api = QueueApi(self)

    @classmethod
    def demo_credentials(cls, partner_id: str) -> dict[str, str]:
        seller = "A" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(13))
        return {"client_id": f"amzn1.application-oa2-client.{secrets.token_hex(16)}",
                "client_secret": f"amzn1.oa2-cs.v1.{secrets.token_urlsafe(32)}",
                "refresh_token": f"Atzr|{secrets.token_urlsafe(48)}", "seller_id": seller}

    @property
    def seller_id(self) -> str:
        return self.config.credentials["seller_id"]

    def routes(self) -> list[web.RouteDef]:
        api, items, feeds = self._api, wire.LISTINGS_ITEMS, self.feeds_api
        listings, queue = self.listings_api, self.queue_api
        return [
            web.post("/auth/o2/token", self._issue_token),
            web.post("/_sim/tokens/expire", self._expire_tokens),
            web.get(items + "/{sellerId}", api("searchListingsItems", listings.search)),
            web.get(items + "/{sellerId}/{sku}", api("getListingsItem", listings.get)),
            web.patch(items + "/{sellerId}/{sku}", api("patchListingsItem", listings.patch)),
            web.post(wire.FEEDS + "/documents", api("createFeedDocument", feeds.create_document)),
            web.get(wire.FEEDS + "/documents/{documentId}", api("getFeedDocument", feeds.get_document)),
            web.post(wire.FEEDS + "/feeds", api("createFeed", feeds.create_feed)),
            web.get(wire.FEEDS + "/feeds/{feedId}", api("getFeed", feeds.get_feed)),
            web.get(wire.ORDERS_V0, api("getOrders", self._get_orders)),
            web.get(wire.ORDERS_V0 + "/{orderId}/orderItems", api("getOrderItems", self._get_order_items)),
            web.put("/s3/feeds/{documentId}", feeds.upload_document),
            web.get("/s3/feeds/{documentId}", feeds.download_document),
            web.post("/sqs/{queue}/receive", self._authorised(queue.receive)),
            web.post("/sqs/{queue}/delete", self._authorised(queue.delete)),
        ]

    # --- the partner's shapes ------------------------------------------------------------------------

    def error_response(self, status: int, message: str, details: str = "") -> web.Response:
        error = {"code": _CODES.get(status, "InvalidInput"), "message": message, "details": details}
        return web.json_response({"errors": [error]}, status=status, headers=_request_id())

    def throttled_response(self, retry_after: float) -> web.Response:
        # Amazon sends no Retry-After: the caller knows the usage plan.
        error = {"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource.",
                 "details": ""}
        return web.json_response({"errors": [error]}, status=429, headers=_request_id())

    def _api(self, op: str, handler: Handler) -> Handler:
        """Token check, then the operation's bucket, then the handler; successes carry the plan's rate."""
        plan = wire.USAGE_PLANS.get(op)

        async def guarded(request: web.Request) -> web.Response:
            refused = self._refused(request)
            if refused is None and plan is not None:
                refused = self.over_limit(op, plan)
            if refused is not None:
                return refused
            answer = await handler(request)
            if plan is not None and answer.status < 400:
                answer.headers["x-amzn-RateLimit-Limit"] = f"{plan.per_second:g}"
            return answer

        return guarded

    def _authorised(self, handler: Handler) -> Handler:
        """The token check alone: the queue has no bucket of its own here."""
        async def guarded(request: web.Request) -> web.Response:
            refused = self._refused(request)
            return refused if refused is not None else await handler(request)

        return guarded

    def _refused(self, request: web.Request) -> web.Response | None:
        expires = self.tokens.get(request.headers.get("x-amz-access-token", ""))
        if expires is None or self.clock.monotonic() >= expires:
            self.stats["unauthorized" if expires is None else "expired_tokens"] += 1
            return self.error_response(403, "Access to requested resource is denied.",
                                       _INVALID if expires is None else _EXPIRED)
        seller = request.match_info.get("sellerId")
        if seller is not None and seller != self.seller_id:
            return self.error_response(400, f"Invalid sellerId {seller!r}")
        marketplaces = request.query.get("marketplaceIds", request.query.get("MarketplaceIds"))
        if marketplaces is not None and self.marketplace not in marketplaces.split(","):
            return self.error_response(400, f"Invalid marketplaceIds {marketplaces!r}")
        return None

    # --- LWA -----------------------------------------------------------------------------------------

    async def _issue_token(self, request: web.Request) -> web.Response:
        form, creds = await request.post(), self.config.credentials
        if form.get("grant_type") != "refresh_token":
            return _lwa_error(400, "unsupported_grant_type", "The grant type is not supported")
        if form.get("client_id") != creds["client_id"] or form.get("client_secret") != creds["client_secret"]:
            return _lwa_error(401, "invalid_client", "Client authentication failed")
        if form.get("refresh_token") != creds["refresh_token"]:
            return _lwa_error(400, "invalid_grant",
                              "The request has an invalid grant parameter : refresh_token")
        token, ttl = f"Atza|{secrets.token_urlsafe(32)}", self.config.token_ttl
        self.tokens[token] = self.clock.monotonic() + ttl
        self.stats["tokens_issued"] += 1
        lifetime = int(ttl) if ttl.is_integer() else ttl   # LWA says 3600; tests want less than a second
        return web.json_response({"access_token": token, "refresh_token": creds["refresh_token"],
                                  "token_type": "bearer", "expires_in": lifetime})

    def expire_tokens(self) -> None:
        self.tokens = dict.fromkeys(self.tokens, self.clock.monotonic())

    async def _expire_tokens(self, _request: web.Request) -> web.Response:
        self.expire_tokens()
        return web.json_response({"expired": len(self.tokens)})

    # --- orders --------------------------------------------------------------------------------------

    # --- what survives a restart: tokens as their time left (a monotonic clock starts anew) -------

    def snapshot(self) -> dict[str, Any]:
        now = self.clock.monotonic()
        left = {token: at - now for token, at in self.tokens.items() if at > now}
        return {**super().snapshot(), "tokens_left": left,
                "queue": [m.body for m in self.queue.messages.values()]}

    def restore(self, saved: dict[str, Any]) -> None:
        super().restore(saved)
        now = self.clock.monotonic()
        self.tokens.update({token: now + float(left) for token, left in saved.get("tokens_left", {}).items()})
        for body in saved.get("queue", []):  # SQS keeps undeleted messages; all visible again
            self.queue.send(body)

    async def record_order(self, sku: str, quantity: int) -> SimOrder:
        digits = f"{random.randrange(10**16, 10**17)}"
        order_id = f"{digits[:3]}-{digits[3:10]}-{digits[10:]}"
        now = self.clock.time()
        order = SimOrder(order_id, sku, quantity, "Unshipped", now, now)
        self.orders[order_id] = order
        self.sell(sku, quantity)
        self._notify(order)
        return order

    async def change_order(self, order: SimOrder, status: str) -> None:
        new = _STATUSES[status]
        if order.status in ("Shipped", "Canceled") or order.status == new:
            return   # a shipped or cancelled order stays so
        if new == "Canceled":
            self.listings[order.sku] = self.listings.get(order.sku, 0) + order.quantity
        order.status, order.updated_at = new, self.clock.time()
        self._notify(order)

    def _notify(self, order: SimOrder) -> None:
        if not self.notifications:
            return
        notification = wire.order_change(order, self.seller_id, self.marketplace, str(uuid.uuid4()))
        body = json.dumps(notification)
        self.queue.send(body)
        self.stats["notifications_sent"] += 1
        if random.random() < self.config.duplicate_rate:
            self.queue.send(body)
            self.stats["notifications_duplicated"] += 1

    def _order_row(self, order: SimOrder) -> dict[str, Any]:
        shipped = order.quantity if order.status == "Shipped" else 0
        return {"AmazonOrderId": order.order_id, "PurchaseDate": wire.timestamp(order.created_at),
                "LastUpdateDate": wire.timestamp(order.updated_at), "OrderStatus": order.status,
                "FulfillmentChannel": "MFN", "SalesChannel": "Amazon.com", "OrderType": "StandardOrder",
                "MarketplaceId": self.marketplace, "NumberOfItemsShipped": shipped,
                "NumberOfItemsUnshipped": order.quantity - shipped if order.status != "Canceled" else 0}

    async def _get_orders(self, request: web.Request) -> web.Response:
        query = self._orders_query(request)
        if isinstance(query, web.Response):
            return query
        field, after, size, key = query
        rows = sorted(((math.floor(getattr(o, field)), o.order_id), o) for o in self.orders.values()
                      if math.floor(getattr(o, field)) >= after)
        rows = [row for row in rows if key is None or row[0] > key]
        payload: dict[str, Any] = {"Orders": [self._order_row(order) for _, order in rows[:size]]}
        if len(rows) > size:
            last = rows[size - 1][0]
            position = {"field": field, "after": after, "size": size, "key": list(last)}
            payload["NextToken"] = pack_token(position)
        return web.json_response({"payload": payload})

    def _orders_query(self, request: web.Request) -> _OrdersQuery | web.Response:
        """(order field, lower bound, page size, keyset position) from the query or its NextToken."""
        query = request.query
        if "NextToken" in query:
            token = unpack_token(query["NextToken"])
            try:
                key = (int(token["key"][0]), str(token["key"][1]))
                return str(token["field"]), float(token["after"]), int(token["size"]), key
            except (KeyError, TypeError, ValueError, IndexError):
                return self.error_response(400, "Invalid NextToken")
        given = [name for name in ("LastUpdatedAfter", "CreatedAfter") if name in query]
        if len(given) != 1:
            return self.error_response(400, "Exactly one of CreatedAfter and LastUpdatedAfter is required")
        try:
            after = wire.read_timestamp(query[given[0]])
        except ValueError:
            return self.error_response(400, f"{given[0]} is not an ISO 8601 date")
        field = "updated_at" if given[0] == "LastUpdatedAfter" else "created_at"
        return field, after, min(100, max(1, whole_number(query.get("MaxResultsPerPage"), 100))), None

    async def _get_order_items(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["orderId"])
        if order is None:
            return self.error_response(404, f"Order {request.match_info['orderId']} not found")
        item = {"ASIN": asin(order.sku), "SellerSKU": order.sku,
                "OrderItemId": wire.order_item_id(order.order_id, 1), "Title": order.sku,
                "QuantityOrdered": order.quantity,
                "QuantityShipped": order.quantity if order.status == "Shipped" else 0}
        return web.json_response({"payload": {"AmazonOrderId": order.order_id, "OrderItems": [item]}})


def _lwa_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def _request_id() -> dict[str, str]:
    return {"x-amzn-RequestId": str(uuid.uuid4())}
