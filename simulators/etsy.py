"""Etsy Open API v3, imitated: OAuth refresh with rotating refresh tokens, listings whose products
are our variants, the whole-inventory PUT with Etsy's checks, receipts, Standard-Webhooks deliveries
and the per-second and per-day limits with their headers on every answer.

Listings: `config.skus` in order, cut into consecutive chunks of `options["variants_per_listing"]`
(default 20); each SKU is a product whose property values are Size (the SKU up to its last "-") and
Primary color (after it). Product and offering ids change on every inventory PUT, as Etsy's do.
Other options: `limit_per_second` (10), `limit_per_day` (10,000; a token bucket stands in for the
rolling day), `price` (45.0). Webhooks: ORDER_PAID only, the flat
`{"event_type": "order.paid", "resource_url", "shop_id"}` body, as Etsy sends it.
`POST /_sim/throttle {"count": n}` makes the next n API calls answer 429. Etsy's 429 carries no
rate headers and no Retry-After, so a spent day looks like a busy second.
A cancelled receipt does not put its quantity back on the listing.

This module is the app (the gate, OAuth, limits) and the receipts; the listings and their
inventories are in etsy_listings.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
from typing import Any

from aiohttp import web

from simulators.base import SimConfig, SimOrder, Simulator
from simulators.etsy_listings import ListingsApi, limit_offset
from simulators.etsy_wire import money, webhook_signature
from simulators.http import json_object
from simulators.ratelimit import Quota

API = "/v3/application"
TOKEN_PATH = "/v3/public/oauth/token"
# Etsy's webhooks carry one event, ORDER_PAID (event_type "order.paid" in the body); a shipment or a
# cancellation changes the receipt's status, which only the receipts endpoint shows.
PAID_EVENT = "order.paid"
CHANGE_STATUS = {"shipped": "completed", "cancelled": "canceled"}


class EtsySimulator(Simulator):
    kind = "etsy"

    def __init__(self, config: SimConfig):
        super().__init__(config)
        creds = config.credentials
        self.api_key = f"{creds['keystring']}:{creds['shared_secret']}"
        self.user_id, self.shop_id = int(creds["user_id"]), int(creds["shop_id"])
        self.refresh_token = creds["refresh_token"]
        self.tokens: dict[str, float] = {}                 # access token -> expiry (unix)
        self.per_second = float(config.options.get("limit_per_second", 10))
        self.per_day = float(config.options.get("limit_per_day", 10_000))
        self.inventories: dict[int, dict[str, Any]] = {}   # listing -> inventory without quantities
        self.listing_of: dict[str, int] = {}
        self._forced = 0
        self.listings_api = ListingsApi(self)
        size = max(1, int(config.options.get("variants_per_listing", 20)))
        for start in range(0, len(config.skus), size):
            self.listings_api.add_listing(config.skus[start:start + size])

    @classmethod
    def demo_credentials(cls, partner_id: str) -> dict[str, str]:
        user_id = str(10_000_000 + secrets.randbelow(89_999_999))
        key = base64.b64encode(secrets.token_bytes(24)).decode()
        return {"keystring": secrets.token_hex(12), "shared_secret": secrets.token_urlsafe(8),
                "refresh_token": f"{user_id}.{secrets.token_urlsafe(48)}", "user_id": user_id,
                "shop_id": str(30_000_000 + secrets.randbelow(9_999_999)), "webhook_secret": f"whsec_{key}"}

    # --- orders --------------------------------------------------------------------------------

    async def record_order(self, sku: str, quantity: int) -> SimOrder:
        now = float(int(self.clock.time()))
        listing_id = self.listing_of[sku]
        product = next(p for p in self.inventories[listing_id]["products"] if p["sku"] == sku)
        order = SimOrder(str(3_000_000_000 + self.next_id()), sku, quantity, "paid", now, now, extra={
            "transaction_id": 5_000_000_000 + self.next_id(), "listing_id": listing_id,
            "product_id": product["product_id"], "price": product["offerings"][0]["price"],
            "is_shipped": False})
        self.orders[order.order_id] = order
        self.sell(sku, quantity)
        self._notify(order)
        return order

    async def change_order(self, order: SimOrder, status: str) -> None:
        """Shipped or cancelled: the receipt's status changes and no webhook is sent."""
        order.status = CHANGE_STATUS[status]
        order.extra["is_shipped"] = order.extra["is_shipped"] or status == "shipped"
        order.updated_at = float(int(self.clock.time()))

    def _notify(self, order: SimOrder) -> None:
        """ORDER_PAID, flat: the event, the receipt's URL to fetch, the shop; nothing else."""
        url = f"{self.base_url}{API}/shops/{self.shop_id}/receipts/{order.order_id}"
        body = json.dumps({"event_type": PAID_EVENT, "resource_url": url, "shop_id": self.shop_id}).encode()
        message_id, secret = f"msg_{secrets.token_urlsafe(18)}", self.config.credentials["webhook_secret"]

        def headers_for(attempt_at: float) -> dict[str, str]:
            stamp = str(int(attempt_at))  # each attempt is signed anew, under the same message id
            return {"content-type": "application/json", "webhook-id": message_id, "webhook-timestamp": stamp,
                    "webhook-signature": webhook_signature(secret, message_id, stamp, body)}

        self.stats[f"webhooks:{PAID_EVENT}"] += 1
        self.deliver(body, headers_for)

    def receipt(self, order: SimOrder) -> dict[str, Any]:
        paid_at, shipped = int(order.created_at), bool(order.extra["is_shipped"])
        return {
            "receipt_id": int(order.order_id), "receipt_type": 0, "seller_user_id": self.user_id,
            "buyer_user_id": 700_000 + int(order.order_id) % 1000, "status": order.status, "is_paid": True,
            "is_shipped": shipped, "create_timestamp": paid_at, "created_timestamp": paid_at,
            "update_timestamp": int(order.updated_at), "updated_timestamp": int(order.updated_at),
            "transactions": [{
                "transaction_id": order.extra["transaction_id"], "receipt_id": int(order.order_id),
                "listing_id": order.extra["listing_id"], "product_id": order.extra["product_id"],
                "sku": order.sku, "quantity": order.quantity, "is_digital": False,
                "create_timestamp": paid_at, "paid_timestamp": paid_at,
                "shipped_timestamp": int(order.updated_at) if shipped else None,
                "price": money(order.extra["price"])}]}

    # --- the API -------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = super().app()
        app.middlewares.append(self._gate)
        app.on_response_prepare.append(self._limit_headers)
        return app

    def routes(self) -> list[web.RouteDef]:
        shop, listings = API + "/shops/{shop_id:\\d+}", self.listings_api
        return [
            web.post(TOKEN_PATH, self._token),
            web.get(shop + "/listings", listings.listings),
            web.get(API + "/listings/{listing_id:\\d+}/inventory", listings.get_inventory),
            web.put(API + "/listings/{listing_id:\\d+}/inventory", listings.put_inventory),
            web.get(shop + "/receipts", self._receipts),
            web.get(shop + "/receipts/{receipt_id:\\d+}", self._one_receipt),
            web.post("/_sim/throttle", self._sim_throttle),
        ]

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Etsy's order: the app key, then the app's limits, then the user's token."""
        if not request.path.startswith(API):
            return await handler(request)
        if request.headers.get("x-api-key") != self.api_key:
            return self.error_response(403, "Invalid API key")
        if self._forced:
            self.stats["forced_429"] += 1
            self._forced -= 1
            return self._too_many()
        refused = self.over_limit("second", Quota(self.per_second, self.per_second)) \
            or self.over_limit("day", Quota(self.per_day / 86_400, self.per_day))
        if refused is not None:
            return refused
        return self._check_token(request.headers.get("Authorization", "")) or await handler(request)

    def _check_token(self, authorization: str) -> web.Response | None:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            return _oauth_error(401, "invalid_request", "Missing authorization header")
        expires_at = self.tokens.get(token)
        if expires_at is None or not token.startswith(f"{self.user_id}."):
            return _oauth_error(401, "invalid_token", "access token is invalid")
        if self.clock.time() >= expires_at:
            self.stats["expired_token_refused"] += 1
            return _oauth_error(401, "invalid_token", "access token is expired")
        return None

    async def _limit_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """Etsy's counts ride on answers that got through; a 429 carries none of them."""
        if request.path.startswith(API) and response.status != 429:
            response.headers.update({
                "x-limit-per-second": f"{self.per_second:g}", "x-limit-per-day": f"{self.per_day:g}",
                "x-remaining-this-second": str(int(self.bucket_level("second") or 0)),
                "x-remaining-today": str(int(self.bucket_level("day") or 0))})

    async def _token(self, request: web.Request) -> web.Response:
        json_body = request.content_type == "application/json"
        form = await json_object(request) if json_body else dict(await request.post())
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(400, "unsupported_grant_type", "grant_type must be refresh_token")
        if form.get("client_id") != self.config.credentials["keystring"]:
            return _oauth_error(401, "invalid_client", "client_id is invalid")
        if not form.get("refresh_token") or form.get("refresh_token") != self.refresh_token:
            return _oauth_error(400, "invalid_grant", "refresh_token is revoked")
        now, ttl = self.clock.time(), self.config.token_ttl
        self.tokens = {token: at for token, at in self.tokens.items() if at > now}
        access = f"{self.user_id}.{secrets.token_urlsafe(48)}"
        self.tokens[access] = now + ttl
        self.refresh_token = f"{self.user_id}.{secrets.token_urlsafe(48)}"  # the old one stops working
        self.stats["token_refreshes"] += 1
        return web.json_response({"access_token": access, "token_type": "Bearer",
                                  "expires_in": int(ttl) if float(ttl).is_integer() else ttl,
                                  "refresh_token": self.refresh_token})

    async def _receipts(self, request: web.Request) -> web.Response:
        paging = self.wrong_shop(request) or limit_offset(request)
        if isinstance(paging, web.Response):
            return paging
        limit, offset = paging
        try:
            low = int(request.query.get("min_last_modified", 0))
            high = float(request.query.get("max_last_modified", math.inf))
        except ValueError:
            return self.error_response(400, "min_last_modified, max_last_modified: must be unix timestamps")
        orders = [o for o in self.orders.values() if low <= o.updated_at <= high]
        orders.sort(key=_sort_key(request.query.get("sort_on", "created")),
                    reverse=request.query.get("sort_order", "desc") == "desc")
        return web.json_response({"count": len(orders),
                                  "results": [self.receipt(o) for o in orders[offset:offset + limit]]})

    async def _one_receipt(self, request: web.Request) -> web.Response:
        if (wrong := self.wrong_shop(request)) is not None:
            return wrong
        order = self.orders.get(request.match_info["receipt_id"])
        if order is None:
            return self.error_response(404, f"Receipt {request.match_info['receipt_id']} not found")
        return web.json_response(self.receipt(order))

    def wrong_shop(self, request: web.Request) -> web.Response | None:
        """Etsy's 403 when the path names a shop other than ours, else None."""
        if int(request.match_info["shop_id"]) == self.shop_id:
            return None
        return self.error_response(403, "The user does not own this shop")

    # --- what survives a restart: the rotated refresh token above all, or we could never log in --

    def snapshot(self) -> dict[str, Any]:
        return {**super().snapshot(), "refresh_token": self.refresh_token, "tokens": self.tokens,
                "inventories": [[listing, inventory] for listing, inventory in self.inventories.items()]}

    def restore(self, saved: dict[str, Any]) -> None:
        super().restore(saved)
        self.refresh_token = str(saved.get("refresh_token", self.refresh_token))
        self.tokens.update(saved.get("tokens", {}))
        self.inventories.update({int(listing): inv for listing, inv in saved.get("inventories", [])})

    async def _sim_throttle(self, request: web.Request) -> web.Response:
        data = await json_object(request)
        try:
            self._forced += int(data.get("count", 1))
        except (TypeError, ValueError):
            return self.error_response(400, "body must be {\"count\": int}")
        return web.json_response({"forced": self._forced})

    # --- the partner's shapes ------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    def throttled_response(self, retry_after: float) -> web.Response:
        """Etsy's 429 says neither which limit was hit nor when to come back: no Retry-After and
        none of the x-limit/x-remaining counts (`retry_after` is our bucket's own figure, unsaid)."""
        self.stats["throttled_seconds"] += math.ceil(retry_after)
        return self._too_many()

    def _too_many(self) -> web.Response:
        return web.json_response({"error": "You have exceeded your rate limit. Try again later."}, status=429)


def _sort_key(sort_on: str) -> Any:
    """Etsy's sort_on values; ties go by receipt id, so paging is stable."""
    def by_time(order: SimOrder) -> tuple[float, int]:
        moment = order.updated_at if sort_on == "updated" else order.created_at
        return (moment if sort_on in ("created", "updated") else 0.0, int(order.order_id))
    return by_time


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)
