"""Shopify Admin API: quantities set with the GraphQL inventorySetQuantities mutation at one location,
orders polled over REST with Link-header paging or received as signed webhooks.

Credentials: `access_token` (an offline Admin API token sent as X-Shopify-Access-Token; it does not
expire, so a 401 means it was revoked: AuthExpired), `app_secret` (the app's client secret, the key of
the webhook HMAC), `shop_domain` (e.g. "linens.myshopify.com"; deliveries naming another shop are
refused).
Options: `api_version` (default "2026-04": the first version where the fields we send,
`changeFromQuantity` and `@idempotent`, exist and the old compareQuantity is gone), `location_id`
(default: the first location listed by GET locations.json), `order_lookback_hours` (how far back
the first poll looks; default 24), `webhook_max_age_s` (how old a delivery's X-Shopify-Triggered-At
may be; default 5 h, since Shopify retries a delivery for 4 h with its first trigger time).

Variants are found with GraphQL productVariants: every variant at start (paged), and later any SKU
not yet known by a `sku:` search, in batches. Quantities are set with changeFromQuantity null: we
are the source of truth and set absolute quantities (see _set_quantities). Each push carries an
idempotency key that stays the same while its outcome is unknown (a retry after a timeout, a 5xx,
a throttle, IDEMPOTENCY_CONCURRENT_REQUEST), so Shopify applies it once; an item not stocked at our
location is activated there (inventoryActivate) and set again.

Limits: Shopify's REST bucket (40, leaking 2/s) is one per app and shop whatever the endpoint, so
every REST call spends from the one operation "rest"; GraphQL spends query-cost points from
"graphql" (2000, restoring 100/s), set_cost() points per mutation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import aiohttp

from connectors.base import (
    AuthExpired,
    Connector,
    Listing,
    OrderEvent,
    OrderPage,
    PartnerError,
    PartnerRejected,
    PartnerSpec,
    PushResult,
    RateLimited,
    header,
)
from connectors.limits import Limiter, RateSpec
from connectors.shopify_cursor import OrdersCursor
from connectors.shopify_format import (
    API_VERSION,
    CANCEL_REASONS,
    MAX_LEVEL_ITEMS,
    MAX_PAGE,
    MAX_SET_QUANTITIES,
    ORDER_FIELDS,
    format_time,
    graphql_error_text,
    next_page_info,
    order_events,
    rest_error_text,
    set_cost,
    throttled_wait,
    webhook_authentic,
    webhook_events,
    webhook_fresh,
)
from connectors.shopify_graphql import (
    SKUS_PER_QUERY,
    VARIANTS_PAGE,
    Budget,
    read_budget,
    read_variants,
    variants_cost,
    variants_request,
)
from connectors.shopify_push import LevelSetter

LARGEST_CALL = set_cost(MAX_SET_QUANTITIES)   # points: the most one of our calls costs
WEBHOOK_MAX_AGE = 5 * 3600.0   # Shopify retries for 4 h, keeping the first X-Shopify-Triggered-At
ABSENT_RECHECK = 300.0    # seconds before asking Shopify again for a SKU it did not have


class ShopifyConnector(Connector):
    kind: ClassVar[str] = "shopify"
    limits: ClassVar[Mapping[str, RateSpec]] = {
        "rest": RateSpec(2.0, 40.0),
        "graphql": RateSpec(100.0, 2000.0),
    }
    max_push_batch: ClassVar[int] = MAX_SET_QUANTITIES
    capabilities: ClassVar[tuple[str, ...]] = ("push", "poll", "webhook", "cancel")

    def __init__(self, spec: PartnerSpec, session: Any = None, limiter: Limiter | None = None):
        super().__init__(spec, session, limiter)
        self.items: dict[str, int] = {}   # our SKU -> Shopify inventory_item_id
        self.location_id: int | None = None
        self.budget: Budget | None = None   # the shop's GraphQL points as its last answer said
        self._levels: LevelSetter | None = None
        self._absent: dict[str, float] = {}  # SKU -> when Shopify last had no variant with it

    @property
    def api(self) -> str:
        base = self.spec.base_url.rstrip("/") or f"https://{self.spec.credentials['shop_domain']}"
        return f"{base}/admin/api/{self.spec.options.get('api_version', API_VERSION)}"

    async def start(self) -> None:
        configured = self.spec.options.get("location_id")
        self.location_id = int(configured) if configured else await self._first_location()
        self.items = await self._find_variants(None)

    # --- the wire ------------------------------------------------------------------------------

    async def _call(self, op: str, method: str, path: str, cost: float = 1.0,
                    **kwargs: Any) -> tuple[Any, Mapping[str, str]]:
        if self.session is None:
            raise PartnerError("Shopify connector has no HTTP session")
        headers = {"X-Shopify-Access-Token": self.spec.credentials["access_token"],
                   "Accept": "application/json"}
        try:
            async with self.limiter.sending(op, cost), self.session.request(
                    method, self.api + path, headers=headers, **kwargs) as answer:
                status, answer_headers, text = answer.status, answer.headers, await answer.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise PartnerError(f"Shopify {method} {path}: {exc!r}") from exc
        try:
            payload = json.loads(text) if text else None
        except ValueError as exc:
            if status < 300:
                raise PartnerError(f"Shopify {method} {path}: answer is not JSON") from exc
            payload = text
        self._check(op, status, payload, answer_headers)
        return payload, answer_headers

    def _check(self, op: str, status: int, payload: Any, headers: Mapping[str, str]) -> None:
        if status < 300:
            return
        text = rest_error_text(payload)
        if status == 401:
            raise AuthExpired(f"Shopify refused the access token: {text}")
        if status == 429:
            retry_after = _seconds(header(headers, "Retry-After"), 2.0)
            self.limiter.honour(op, retry_after)
            raise RateLimited(f"Shopify {status}: {text}", retry_after)
        if status >= 500:
            raise PartnerError(f"Shopify {status}: {text}")
        raise PartnerRejected(f"Shopify {status}: {text}")

    async def _rest(self, method: str, path: str, **kwargs: Any) -> tuple[Any, Mapping[str, str]]:
        return await self._call("rest", method, path, **kwargs)

    async def _graphql(self, body: Mapping[str, Any], cost: int) -> Mapping[str, Any]:
        answer, _ = await self._call("graphql", "POST", "/graphql.json", cost=cost, json=body)
        if not isinstance(answer, dict):
            raise PartnerError("Shopify GraphQL answer is not an object")
        wait = throttled_wait(answer)
        if wait is not None:
            self.limiter.honour("graphql", wait)
            raise RateLimited("Shopify GraphQL: Throttled", wait)
        self._heed_budget(answer)
        if answer.get("errors"):
            raise PartnerRejected(f"Shopify GraphQL: {graphql_error_text(answer)}")
        return answer.get("data") or {}

    def _heed_budget(self, answer: Mapping[str, Any]) -> None:
        """Every answer says how many points the shop has left for this app: other clients of the
        same app spend them too, which our own bucket cannot see, so when the shop has fewer left
        than our largest call costs we wait until it has them rather than be throttled."""
        budget = read_budget(answer)
        if budget is None:
            return
        self.budget = budget
        wait = budget.wait_until(min(LARGEST_CALL, budget.maximum))
        if wait > 0:
            self.limiter.honour("graphql", wait)

    # --- discovery -----------------------------------------------------------------------------

    async def _first_location(self) -> int:
        payload, _ = await self._rest("GET", "/locations.json")
        locations = payload.get("locations") or []
        if not locations:
            raise PartnerRejected("Shopify shop has no locations to keep stock at")
        return int(locations[0]["id"])

    async def _find_variants(self, skus: Sequence[str] | None) -> dict[str, int]:
        """SKU -> inventory item of the variants with these SKUs (every variant when None), page by
        page. Shopify's search may match more than asked for, so only exact SKUs are kept."""
        found: dict[str, int] = {}
        after: str | None = None
        while True:
            data = await self._graphql(variants_request(skus, after), variants_cost(VARIANTS_PAGE))
            page, after = read_variants(data)
            found.update(page if skus is None else {sku: item for sku, item in page.items() if sku in skus})
            if after is None:
                return found

    async def _look_up(self, skus: Sequence[str]) -> None:
        """Find SKUs we do not know yet (a variant added at Shopify since start); one that Shopify
        does not have is asked about again only after ABSENT_RECHECK seconds."""
        now = time.monotonic()
        wanted = [sku for sku in dict.fromkeys(skus)
                  if sku not in self.items and now - self._absent.get(sku, -ABSENT_RECHECK) >= ABSENT_RECHECK]
        for start in range(0, len(wanted), SKUS_PER_QUERY):
            batch = wanted[start:start + SKUS_PER_QUERY]
            found = await self._find_variants(batch)
            self.items.update(found)
            self._absent.update({sku: now for sku in batch if sku not in found})

    # --- push ----------------------------------------------------------------------------------

    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        latest = {listing.sku: listing for listing in listings}   # Shopify refuses a pair twice in a call
        await self._look_up([sku for sku in latest if sku not in self.items])
        results: dict[str, PushResult] = {}
        known = [listing for listing in latest.values() if listing.sku in self.items]
        for listing in latest.values():
            if listing.sku not in self.items:
                results[listing.sku] = PushResult(listing.sku, False, "no Shopify variant has this SKU")
        levels = [(listing.sku, self.items[listing.sku], listing.quantity) for listing in known]
        for start in range(0, len(levels), MAX_SET_QUANTITIES):
            chunk = levels[start:start + MAX_SET_QUANTITIES]
            results.update({r.sku: r for r in await self._setter().push(chunk)})
        return [results[listing.sku] for listing in listings]

    def _setter(self) -> LevelSetter:
        if self.location_id is None:
            raise RuntimeError("ShopifyConnector.start() must run before push()")
        if self._levels is None or self._levels.location_id != self.location_id:
            self._levels = LevelSetter(self._graphql, self.location_id)
        return self._levels

    # --- reading -------------------------------------------------------------------------------

    async def read_listings(self, skus: Sequence[str]) -> dict[str, int]:
        by_item = {self.items[sku]: sku for sku in skus if sku in self.items}
        shown: dict[str, int] = {}
        ids = list(by_item)
        for start in range(0, len(ids), MAX_LEVEL_ITEMS):
            chunk = ids[start:start + MAX_LEVEL_ITEMS]
            params = {"inventory_item_ids": ",".join(map(str, chunk)),
                      "location_ids": str(self.location_id), "limit": str(MAX_PAGE)}
            payload, _ = await self._rest("GET", "/inventory_levels.json", params=params)
            for level in payload.get("inventory_levels") or []:
                sku = by_item.get(int(level["inventory_item_id"]))
                if sku is not None and int(level["location_id"]) == self.location_id:
                    shown[sku] = int(level.get("available") or 0)
        # An item not stocked at our location shows nothing to buy.
        return {sku: shown.get(sku, 0) for sku in by_item.values()}

    async def fetch_orders(self, cursor: str | None, page_size: int) -> OrderPage:
        state = OrdersCursor.decode(cursor) or self._first_cursor()
        params = {"limit": str(max(1, min(page_size, MAX_PAGE))), "fields": ORDER_FIELDS}
        if state.page_info:
            params["page_info"] = state.page_info   # Shopify allows no other filter beside page_info
        else:
            params.update(status="any", updated_at_min=state.since)
        try:
            payload, headers = await self._rest("GET", "/orders.json", params=params)
        except PartnerRejected:
            if not state.page_info:
                raise
            # A page_info Shopify no longer takes would stop polling for good: page again from
            # `since`; what comes twice dedupes on its event ids.
            return await self.fetch_orders(OrdersCursor(state.since).encode(), page_size)
        orders = payload.get("orders") or []
        page_info = next_page_info(header(headers, "Link"))
        events = [event for order in orders for event in order_events(order)]
        return OrderPage(events, state.after_page(orders, page_info).encode(), more=page_info is not None)

    def _first_cursor(self) -> OrdersCursor:
        hours = float(self.spec.options.get("order_lookback_hours", 24))
        return OrdersCursor(since=format_time(time.time() - hours * 3600))

    # --- webhooks and cancels ------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        """Signed by our app for our shop, and triggered recently enough to be Shopify's own delivery
        or retry rather than a replay (the ingress answers 401 and logs either refusal)."""
        credentials = self.spec.credentials
        max_age = float(self.spec.options.get("webhook_max_age_s", WEBHOOK_MAX_AGE))
        return webhook_authentic(credentials.get("app_secret", ""), credentials.get("shop_domain", ""),
                                 headers, body) and webhook_fresh(headers, time.time(), max_age)

    def webhook_event_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        return header(headers, "X-Shopify-Webhook-Id")

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[OrderEvent]:
        try:
            order = json.loads(body)
        except ValueError as exc:
            raise PartnerRejected("Shopify webhook body is not JSON") from exc
        if not isinstance(order, dict) or "id" not in order:
            return []
        return webhook_events(header(headers, "X-Shopify-Topic"), order)

    async def cancel_at_partner(self, order_id: str, reason: str) -> bool:
        if not order_id.isdigit():
            raise PartnerRejected(f"order_id: {order_id!r} is not a Shopify order id")
        body = {"reason": reason if reason in CANCEL_REASONS else "inventory"}
        try:
            await self._rest("POST", f"/orders/{order_id}/cancel.json", json=body)
        except PartnerRejected:
            # A cancel that went through but whose answer was lost comes back refused when retried:
            # the order itself says whether it is cancelled.
            payload, _ = await self._rest("GET", f"/orders/{order_id}.json",
                                          params={"fields": "id,cancelled_at"})
            if not (payload.get("order") or {}).get("cancelled_at"):
                raise
        return True


def _seconds(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default
