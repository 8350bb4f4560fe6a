"""Amazon's Selling Partner API, simulated: LWA tokens (the seller's refresh-token grant and the
app's grantless client-credentials grant), listings (patch, get, search), JSON_LISTINGS_FEED with
documents behind presigned "S3" URLs this server also serves, the Orders API v2026-01-01,
and the Notifications API, which sends ORDER_CHANGE notifications to the subscribed SQS queue. Every
operation has its own server allowance at the published usage plan (amazon_wire.USAGE_PLANS).

Options (config.options): marketplace_id (ATVPDKIKX0DER), feed_seconds (0.2, a feed's processing
time), notifications (True; False sends none, leaving orders to searchOrders polling), sqs_endpoint_url
(where the subscribed queues live: moto's server; empty: AWS), aws_access_key_id and
aws_secret_access_key (Amazon's own AWS keys for sending), lead_time_to_ship_max_days (2, the
seller's handling time on every listing). `config.duplicate_rate` is the share of notifications
delivered twice. `POST /_sim/tokens/expire` expires every access token now.

This module is the app (routes, auth, LWA) and the orders; the listings, the feeds, the Orders API
and the notifications are in amazon_listings, amazon_feeds, amazon_orders and amazon_notifications.
"""

from __future__ import annotations

import json
import random
import secrets
import string
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from simulators import amazon_wire as wire
from simulators.amazon_feeds import FeedsApi
from simulators.amazon_listings import ListingsApi
from simulators.amazon_notifications import NotificationsApi
from simulators.amazon_orders import OrdersApi
from simulators.base import SimConfig, SimOrder, Simulator

Handler = Callable[[web.Request], Awaitable[web.Response]]
_EXPIRED = "The access token you provided has expired."
_INVALID = "The access token you provided is revoked, malformed or invalid."
_CODES = {400: "InvalidInput", 403: "Unauthorized", 404: "NotFound", 413: "RequestTooLarge",
          500: "InternalFailure", 503: "ServiceUnavailable"}
_STATUSES = {"shipped": "Shipped", "cancelled": "Canceled"}


class AmazonSimulator(Simulator):
    kind = "amazon"

    def __init__(self, config: SimConfig):
        super().__init__(config)
        options = config.options
        self.marketplace = str(options.get("marketplace_id", wire.MARKETPLACE_US))
        self.feed_seconds = float(options.get("feed_seconds", 0.2))
        self.notifications = bool(options.get("notifications", True))
        self.tokens: dict[str, float] = {}            # seller access token -> monotonic expiry
        self.grantless: dict[str, float] = {}         # the app's notifications-scope tokens
        lead_time = options.get("lead_time_to_ship_max_days", 2)
        self.listings_api = ListingsApi(self, None if lead_time is None else int(lead_time))
        self.feeds_api = FeedsApi(self)
        self.orders_api = OrdersApi(self)
        self.notifications_api = NotificationsApi(self, str(options.get("sqs_endpoint_url") or "") or None)

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
        api, items, feeds, grantless = self._api, wire.LISTINGS_ITEMS, self.feeds_api, self._grantless_api
        listings, notes = self.listings_api, self.notifications_api
        subscription = wire.NOTIFICATIONS + "/subscriptions/{notificationType}"
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
            web.get(wire.ORDERS, api("searchOrders", self.orders_api.search)),
            web.get(wire.ORDERS + "/{orderId}", api("getOrder", self.orders_api.get)),
            web.put("/s3/feeds/{documentId}", feeds.upload_document),
            web.get("/s3/feeds/{documentId}", feeds.download_document),
            web.get(wire.NOTIFICATIONS + "/destinations",
                    grantless("getDestinations", notes.get_destinations)),
            web.post(wire.NOTIFICATIONS + "/destinations",
                     grantless("createDestination", notes.create_destination)),
            web.get(subscription, api("getSubscription", notes.get_subscription)),
            web.post(subscription, api("createSubscription", notes.create_subscription)),
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

    def _api(self, op: str, handler: Handler, grantless: bool = False) -> Handler:
        """Token check, then the operation's bucket, then the handler; successes carry the plan's rate."""
        plan = wire.USAGE_PLANS.get(op)

        async def guarded(request: web.Request) -> web.Response:
            refused = self._refused_grantless(request) if grantless else self._refused(request)
            if refused is None and plan is not None:
                refused = self.over_limit(op, plan)
            if refused is not None:
                return refused
            answer = await handler(request)
            if plan is not None and answer.status < 400:
                answer.headers["x-amzn-RateLimit-Limit"] = f"{plan.per_second:g}"
            return answer

        return guarded

    def _grantless_api(self, op: str, handler: Handler) -> Handler:
        return self._api(op, handler, grantless=True)

    def _refused_grantless(self, request: web.Request) -> web.Response | None:
        """A grantless operation takes only the app's client-credentials token (not the seller's)."""
        expires = self.grantless.get(request.headers.get("x-amz-access-token", ""))
        if expires is None or self.clock.monotonic() >= expires:
            self.stats["unauthorized"] += 1
            return self.error_response(403, "Access to requested resource is denied.",
                                       _INVALID if expires is None else _EXPIRED)
        return None

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
        grant = form.get("grant_type")
        if grant not in ("refresh_token", "client_credentials"):
            return _lwa_error(400, "unsupported_grant_type", "The grant type is not supported")
        if form.get("client_id") != creds["client_id"] or form.get("client_secret") != creds["client_secret"]:
            return _lwa_error(401, "invalid_client", "Client authentication failed")
        token, ttl = f"Atza|{secrets.token_urlsafe(32)}", self.config.token_ttl
        lifetime = int(ttl) if ttl.is_integer() else ttl   # LWA says 3600; tests want less than a second
        if grant == "client_credentials":
            if form.get("scope") != wire.NOTIFICATIONS_SCOPE:
                return _lwa_error(400, "invalid_scope", "The scope is not valid for this client")
            self.grantless[token] = self.clock.monotonic() + ttl
            return web.json_response({"access_token": token, "scope": wire.NOTIFICATIONS_SCOPE,
                                      "token_type": "bearer", "expires_in": lifetime})
        if form.get("refresh_token") != creds["refresh_token"]:
            return _lwa_error(400, "invalid_grant",
                              "The request has an invalid grant parameter : refresh_token")
        self.tokens[token] = self.clock.monotonic() + ttl
        self.stats["tokens_issued"] += 1
        return web.json_response({"access_token": token, "refresh_token": creds["refresh_token"],
                                  "token_type": "bearer", "expires_in": lifetime})

    def expire_tokens(self) -> None:
        self.tokens = dict.fromkeys(self.tokens, self.clock.monotonic())

    async def _expire_tokens(self, _request: web.Request) -> web.Response:
        self.expire_tokens()
        return web.json_response({"expired": len(self.tokens)})

    # --- orders --------------------------------------------------------------------------------------

    # --- what survives a restart: tokens as their time left (a monotonic clock starts anew). The
    # ORDER_CHANGE queue is AWS's (moto's, in the demo), not ours to keep; orders a lost queue held
    # still reach the seller through searchOrders.

    def snapshot(self) -> dict[str, Any]:
        now = self.clock.monotonic()
        left = {token: at - now for token, at in self.tokens.items() if at > now}
        return {**super().snapshot(), "tokens_left": left}

    def restore(self, saved: dict[str, Any]) -> None:
        super().restore(saved)
        now = self.clock.monotonic()
        self.tokens.update({token: now + float(left) for token, left in saved.get("tokens_left", {}).items()})

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
        subscription = self.notifications_api.subscription_id("ORDER_CHANGE")
        if not self.notifications or subscription is None:
            return
        notification = wire.order_change(order, self.seller_id, self.marketplace, str(uuid.uuid4()),
                                         subscription)
        body = json.dumps(notification)
        self.notifications_api.publish("ORDER_CHANGE", body)
        self.stats["notifications_sent"] += 1
        if random.random() < self.config.duplicate_rate:
            self.notifications_api.publish("ORDER_CHANGE", body)   # SQS delivers at least once
            self.stats["notifications_duplicated"] += 1


def _lwa_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def _request_id() -> dict[str, str]:
    return {"x-amzn-RequestId": str(uuid.uuid4())}
