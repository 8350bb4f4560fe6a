"""Square, the point of sale of our local stores: we set each variation's IN_STOCK count at the
store's location, and learn of till sales (COMPLETED orders) by `order.updated` webhooks and by
searching orders. `inventory.count.updated` deliveries (a till sale fires one too) are verified and
acknowledged but give no event: the order is the fact, and the count is ours to set.

Credentials (`spec.credentials`):
  client_id, client_secret   the OAuth application
  refresh_token              the merchant's; rewritten if Square rotates it
  signature_key              the webhook subscription's signature key
  access_token, expires_at   optional; written back after every refresh (expires_at is RFC 3339)

Options (`spec.options`):
  location_id      the store's location (default: the first active one from GET /v2/locations)
  square_version   the Square-Version header (default 2026-08-19)
  webhook_url      the notification URL registered with Square's webhook subscription (the public
                   https address in front of our ingress); Square signs it with the body, so it
                   must be exactly what Square has (default: the ingress's own address)
  webhook_max_age_s  a delivery whose created_at is older is refused as a replay (default 25 h)
  lookback_hours   how far back a polling sweep reaches for offline sales that synced late with an
                   old updated_at (default 72, Square's offline window)
  sweep_minutes    how often polling sweeps that far back (default 10); between sweeps it reads on
                   from the newest updated_at seen
  rate_limit       {"rate": requests per second, "burst": n} for the whole API

Rate limits: Square does not publish them. We ASSUME 10 requests/s with a burst of 20 across the
whole API (one bucket, "api"; the simulator enforces the same) and honour Retry-After when a 429
carries one (Square's does not promise it; we then wait DEFAULT_RETRY_AFTER).

cancel_at_partner stays False: a till sale is already in the shopper's hands and Square cannot
cancel a COMPLETED order.

The HTTP boundary and OAuth are in square_api, the formats in square_format.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp

from connectors.base import (
    Connector,
    Listing,
    OrderEvent,
    OrderPage,
    PartnerRejected,
    PartnerSpec,
    PushResult,
    header,
)
from connectors.limits import Limiter, RateSpec
from connectors.square_api import SquareApi
from connectors.square_cursor import PollCursor
from connectors.square_format import (
    ASSUMED_LIMIT,
    MAX_CHANGES,
    SIGNATURE_HEADER,
    SQUARE_VERSION,
    configured_limit,
    delivery_fresh,
    order_event,
    parse_iso,
    physical_counts,
    push_results,
    search_body,
    shown_quantities,
    signature_ok,
    webhook_order,
)

REDISCOVER_AFTER = 300.0   # an unknown SKU or variation re-reads the catalog at most this often
OVERLAP = 30.0             # a poll between sweeps re-reads this much before the newest order seen
COUNTS_BATCH = 100
WEBHOOK_MAX_AGE = 25 * 3600.0   # Square retries a delivery for up to 24 h, under its first created_at
CLOCK_SKEW = 300.0              # a created_at this far ahead of our clock is still believed


class SquareConnector(Connector):
    kind: ClassVar[str] = "square"
    limits: ClassVar[Mapping[str, RateSpec]] = {"api": ASSUMED_LIMIT}
    max_push_batch: ClassVar[int] = MAX_CHANGES
    capabilities: ClassVar[tuple[str, ...]] = ("push", "poll", "webhook")

    @classmethod
    def rates(cls, spec: PartnerSpec) -> Mapping[str, RateSpec]:
        return {"api": configured_limit(spec.options, ASSUMED_LIMIT)}

    def __init__(self, spec: PartnerSpec, session: Any = None, limiter: Limiter | None = None):
        super().__init__(spec, session, limiter)
        self.session: aiohttp.ClientSession | None
        self.api = SquareApi(self, str(spec.options.get("square_version") or SQUARE_VERSION))
        self._location_id: str | None = spec.options.get("location_id")
        self._ids: dict[str, str] = {}    # sku -> ITEM_VARIATION id
        self._skus: dict[str, str] = {}   # ITEM_VARIATION id -> sku
        self._discovered_at: float | None = None
        self._last_count_at = 0.0
        self._lookback = float(spec.options.get("lookback_hours", 72)) * 3600
        self._sweep_every = float(spec.options.get("sweep_minutes", 10)) * 60

    # --- lifecycle and discovery ---------------------------------------------------------------

    async def start(self) -> None:
        await self.api.token()
        await self._location()
        await self._discover()

    async def close(self) -> None:
        await self.api.close()

    async def _ready(self) -> str:
        """The location, after start() has run (the ingress may parse a webhook first)."""
        if self._discovered_at is None:
            await self.start()
        return await self._location()

    async def _location(self) -> str:
        if self._location_id is None:
            self._location_id = await self._first_location()
        return self._location_id

    async def _first_location(self) -> str:
        payload = await self.api.call("GET", "/v2/locations")
        active = [loc for loc in payload.get("locations") or [] if loc.get("status", "ACTIVE") == "ACTIVE"]
        if not active:
            raise PartnerRejected("Square: the merchant has no active location")
        return str(active[0]["id"])

    async def _discover(self) -> None:
        ids: dict[str, str] = {}
        cursor: str | None = None
        while True:
            params = {"types": "ITEM_VARIATION", **({"cursor": cursor} if cursor else {})}
            payload = await self.api.call("GET", "/v2/catalog/list", params=params)
            for obj in payload.get("objects") or []:
                sku = (obj.get("item_variation_data") or {}).get("sku")
                if obj.get("type") == "ITEM_VARIATION" and sku and not obj.get("is_deleted"):
                    ids[str(sku)] = str(obj["id"])
            cursor = payload.get("cursor")
            if not cursor:
                break
        self._ids, self._skus = ids, {object_id: sku for sku, object_id in ids.items()}
        self._discovered_at = time.monotonic()

    async def _rediscover_if_stale(self) -> None:
        if self._discovered_at is None or time.monotonic() - self._discovered_at >= REDISCOVER_AFTER:
            await self._discover()

    # --- the operations ------------------------------------------------------------------------

    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        location = await self._ready()
        if any(listing.sku not in self._ids for listing in listings):
            await self._rediscover_if_stale()
        known = [listing for listing in listings if listing.sku in self._ids]
        missing = "not in Square's catalog (no variation has this SKU)"
        results = {listing.sku: PushResult(listing.sku, False, missing)
                   for listing in listings if listing.sku not in self._ids}
        for start in range(0, len(known), MAX_CHANGES):
            chunk = known[start:start + MAX_CHANGES]
            body = {"idempotency_key": str(uuid.uuid4()), "ignore_unchanged_counts": True,
                    "changes": physical_counts(chunk, self._ids, location, self._count_time())}
            payload = await self.api.call("POST", "/v2/inventory/changes/batch-create", body=body)
            results.update((r.sku, r) for r in push_results([listing.sku for listing in chunk], payload))
        return [results[listing.sku] for listing in listings]

    def _count_time(self) -> float:
        """Square keeps the count with the latest occurred_at, so ours must never go backwards."""
        self._last_count_at = max(time.time(), self._last_count_at + 0.001)
        return self._last_count_at

    async def read_listings(self, skus: Sequence[str]) -> dict[str, int]:
        location = await self._ready()
        ids = [self._ids[sku] for sku in dict.fromkeys(skus) if sku in self._ids]
        shown = dict.fromkeys((self._skus[i] for i in ids), 0)  # no count yet: Square shows none
        for start in range(0, len(ids), COUNTS_BATCH):
            cursor: str | None = None
            while True:
                body: dict[str, Any] = {"catalog_object_ids": ids[start:start + COUNTS_BATCH],
                                        "location_ids": [location], **({"cursor": cursor} if cursor else {})}
                payload = await self.api.call("POST", "/v2/inventory/counts/batch-retrieve", body=body)
                shown.update(shown_quantities(payload.get("counts") or [], self._skus, location))
                cursor = payload.get("cursor")
                if not cursor:
                    break
        return shown

    async def fetch_orders(self, cursor: str | None, page_size: int) -> OrderPage:
        location = await self._ready()
        now = time.time()
        try:
            state = PollCursor.decode(cursor) if cursor else PollCursor.first(now)
        except (ValueError, TypeError):
            state = PollCursor.first(now)  # a cursor we cannot read: start over, ids dedupe
        start_at, scan = state.scan(now, self._lookback, self._sweep_every, OVERLAP)
        body = search_body(location, start_at, scan.page, page_size)
        payload = await self.api.call("POST", "/v2/orders/search", body=body)
        orders = payload.get("orders") or []
        await self._learn_variations(orders)
        events = [event for order in orders if (event := order_event(order, self._skus))]
        high = max((parse_iso(o["updated_at"]) for o in orders if o.get("updated_at")), default=0.0)
        after = scan.after_page(high, payload.get("cursor"), now)
        return OrderPage(events, after.encode(), more=after.start is not None)

    async def _learn_variations(self, orders: Sequence[Mapping[str, Any]]) -> None:
        """A line sold from a variation we have not seen may be a SKU added since discovery."""
        seen = {str(item["catalog_object_id"]) for order in orders
                for item in order.get("line_items") or [] if item.get("catalog_object_id")}
        if seen - self._skus.keys():
            await self._rediscover_if_stale()

    # --- webhooks ------------------------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        """Square signs the notification URL registered with it (`options["webhook_url"]`, the
        public https address), not the address our listener binds (`url`, used only when no public
        URL is configured); a delivery whose created_at is older than `webhook_max_age_s` is a
        replay (Square retries for 24 h, so the default allows 25)."""
        key = self.spec.credentials.get("signature_key", "")
        notification_url = str(self.spec.options.get("webhook_url") or url)
        if not signature_ok(key, notification_url, body, header(headers, SIGNATURE_HEADER)):
            return False
        max_age = float(self.spec.options.get("webhook_max_age_s", WEBHOOK_MAX_AGE))
        return delivery_fresh(body, time.time(), max_age, CLOCK_SKEW)

    def webhook_event_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        try:
            event_id = json.loads(body).get("event_id")
        except (ValueError, AttributeError):
            return None
        return str(event_id) if event_id else None

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[OrderEvent]:
        """The delivery names the order and its new state but no lines, so we fetch the order. The
        event's kind comes from the delivery's state: a late retry of COMPLETED stays a SALE even if
        the order was cancelled since (the cancel has its own delivery)."""
        try:
            found = webhook_order(json.loads(body))
        except (ValueError, AttributeError) as exc:
            raise PartnerRejected(f"Square webhook is not an event envelope: {exc}") from exc
        if found is None:
            return []
        order_id, state, at_location = found
        location = await self._ready()
        if at_location is not None and at_location != location:
            return []  # another store of the same merchant
        payload = await self.api.call("GET", f"/v2/orders/{quote(order_id, safe='')}")
        order = payload.get("order") or {}
        await self._learn_variations([order])
        event = order_event(order, self._skus, state)
        return [event] if event else []

