"""Etsy Open API v3: quantities through whole-inventory rewrites, receipts by polling and by the
ORDER_PAID webhook, Etsy's only one (a flat `{"event_type","resource_url","shop_id"}` body; the
receipt is fetched). Shipments and cancellations are learned by polling receipts' status.

Credentials (`spec.credentials`):
  keystring, shared_secret  the app's key; sent as `x-api-key: keystring:shared_secret`
  refresh_token             OAuth refresh token; Etsy rotates it on every use, so the new one is
                            written back here at once (the actor persists credentials)
  user_id, shop_id          the seller's ids (access tokens read `<user_id>.<token>`)
  webhook_secret            `whsec_<base64 key>` from the webhook portal
  access_token, access_token_expires_at   written by the connector (the second is when we stop
                            using the token: a little before Etsy's expiry)
Options (`spec.options`):
  listing_states     states whose listings carry our SKUs (default ["active", "sold_out"])
  order_lookback     seconds of receipts read on the very first poll (default 86400)
  webhook_tolerance  seconds a webhook timestamp may differ from our clock (default 300)
  rediscover_after   seconds before an unknown SKU makes us list the shop again (default 60)
  spent_day_wait_s   how long a 429 taken for a spent day waits before one probe (default 1800)

Orders: receipts sorted by update time, read by keyset (each page starts again at the last update
time seen, skipping what was read at exactly that second; see ReceiptCursor), so a receipt updated
while we page shifts nothing unread. Events derive from each receipt's state, `{receipt_id}:{kind}`,
the same on the webhook path.

Rate limits: Etsy counts per app, 10 a second and 10,000 a rolling day, so every call takes from
two buckets, "request" and "daily". Calls are made one at a time; the buckets pace them. Etsy's
429 carries no counts and no Retry-After: etsy_quota decides from the counts seen last whether it
was a busy second (wait a second, doubling) or a spent day (a long wait, which the sync alerts on).

The HTTP boundary and OAuth are in etsy_api, the formats in etsy_format.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from connectors.base import (
    Connector,
    Listing,
    OrderEvent,
    OrderPage,
    PartnerRejected,
    PartnerSpec,
    PushResult,
)
from connectors.etsy_api import PER_DAY, EtsyApi, Gone
from connectors.etsy_cursor import ReceiptCursor
from connectors.etsy_format import (
    inventory_for_put,
    receipt_events,
    receipt_id_from_url,
    shown_quantities,
    verify_signature,
)
from connectors.limits import Limiter, RateSpec

log = logging.getLogger(__name__)

API = "/v3/application"
MAX_PAGE = 100
PAID_EVENT = "order.paid"   # ORDER_PAID, as the delivery's body names it


class EtsyConnector(Connector):
    kind = "etsy"
    limits: ClassVar[Mapping[str, RateSpec]] = {
        "request": RateSpec(10.0, 10.0),
        "daily": RateSpec(PER_DAY / 86_400, PER_DAY),
    }
    max_push_batch = 100
    capabilities = ("push", "poll", "webhook")

    def __init__(self, spec: PartnerSpec, session: Any = None, limiter: Limiter | None = None):
        super().__init__(spec, session, limiter)
        self.api = EtsyApi(self)
        self._listing_of: dict[str, int] = {}   # our SKU -> the Etsy listing that carries it
        self._discovered_at = float("-inf")

    @property
    def refreshes(self) -> int:
        """OAuth token refreshes so far."""
        return self.api.refreshes

    @property
    def _shop(self) -> str:
        return f"{API}/shops/{self.spec.credentials['shop_id']}"

    # --- the contract ---------------------------------------------------------------------------

    async def start(self) -> None:
        await self._token()
        await self._discover()

    async def _token(self) -> str:
        """The access token, refreshed first when it is due."""
        return await self.api.token()

    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        wanted = {listing.sku: listing.quantity for listing in listings}
        await self._learn_unknown(wanted)
        results: dict[str, PushResult] = {}
        for listing_id, skus in self._by_listing(wanted).items():
            results.update(await self._push_listing(listing_id, {sku: wanted[sku] for sku in skus}))
        return [results.get(listing.sku) or PushResult(listing.sku, False, "no Etsy listing carries this SKU")
                for listing in listings]

    async def read_listings(self, skus: Sequence[str]) -> dict[str, int]:
        await self._learn_unknown(skus)
        shown: dict[str, int] = {}
        for listing_id, wanted in self._by_listing(skus).items():
            inventory = await self.api.call("GET", f"{API}/listings/{listing_id}/inventory")
            quantities = shown_quantities(inventory)
            shown.update({sku: quantities[sku] for sku in wanted if sku in quantities})
        return shown

    async def fetch_orders(self, cursor: str | None, page_size: int) -> OrderPage:
        lookback = float(self.spec.options.get("order_lookback", 86_400))
        position = ReceiptCursor.decode(cursor, int(time.time() - lookback))
        limit, offset = max(1, min(page_size, MAX_PAGE)), 0
        while True:
            page = await self.api.call("GET", f"{self._shop}/receipts", params={
                "min_last_modified": position.since, "limit": limit, "offset": offset,
                "sort_on": "updated", "sort_order": "asc"})
            receipts: list[Mapping[str, Any]] = page.get("results", [])
            fresh = position.fresh(receipts)
            more = int(page.get("count", 0)) > offset + len(receipts)
            if fresh or not more or not receipts:
                break
            # A full page of receipts all read before, all updated in the same second: step past them.
            offset += len(receipts)
        events = [event for receipt in fresh for event in receipt_events(receipt)]
        return OrderPage(events, position.after(receipts).encode(), more)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        tolerance = float(self.spec.options.get("webhook_tolerance", 300))
        return verify_signature(
            self.spec.credentials.get("webhook_secret", ""), _header(headers, "webhook-id"),
            _header(headers, "webhook-timestamp"), _header(headers, "webhook-signature"), body,
            now=time.time(), tolerance=tolerance)

    def webhook_event_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        return _header(headers, "webhook-id") or None

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[OrderEvent]:
        """Etsy's payload names the receipt only (`resource_url`); its lines come from the API. The
        receipt's current state decides the events, so a late retry of ORDER_PAID for a receipt since
        shipped gives both events, with the ids polling would give."""
        try:
            payload = json.loads(body)
        except ValueError:
            return []
        if not isinstance(payload, dict) or payload.get("event_type") != PAID_EVENT:
            log.warning("etsy webhook of an event we do not take ignored: %.80r", body)
            return []
        if str(payload.get("shop_id", "")) != str(self.spec.credentials["shop_id"]):
            log.warning("etsy webhook for another shop %r ignored", payload.get("shop_id"))
            return []
        receipt_id = receipt_id_from_url(str(payload.get("resource_url", "")))
        if receipt_id is None:
            return []
        return receipt_events(await self.api.call("GET", f"{self._shop}/receipts/{receipt_id}"))

    # --- listings ------------------------------------------------------------------------------

    async def _discover(self) -> None:
        """Every listing of the shop (per state, paged), then each one's inventory for its SKUs."""
        listing_ids: list[int] = []
        states = self.spec.options.get("listing_states", ("active", "sold_out"))
        for state in [states] if isinstance(states, str) else states:
            offset = 0
            while True:
                page = await self.api.call("GET", f"{self._shop}/listings",
                                        params={"state": state, "limit": MAX_PAGE, "offset": offset})
                results = page.get("results", [])
                listing_ids += [int(listing["listing_id"]) for listing in results]
                offset += len(results)
                if not results or offset >= int(page.get("count", 0)):
                    break
        found: dict[str, int] = {}
        for listing_id in listing_ids:
            inventory = await self.api.call("GET", f"{API}/listings/{listing_id}/inventory")
            found.update(dict.fromkeys(shown_quantities(inventory), listing_id))
        self._listing_of = found
        self._discovered_at = time.monotonic()

    async def _learn_unknown(self, skus: Any) -> None:
        """A SKU we cannot place may be on a listing made since we last looked; look again, rarely."""
        again_after = float(self.spec.options.get("rediscover_after", 60))
        if any(sku not in self._listing_of for sku in skus) \
                and time.monotonic() - self._discovered_at > again_after:
            await self._discover()

    def _by_listing(self, skus: Any) -> dict[int, list[str]]:
        groups: dict[int, list[str]] = {}
        for sku in skus:
            if sku in self._listing_of:
                groups.setdefault(self._listing_of[sku], []).append(sku)
        return groups

    async def _push_listing(self, listing_id: int, quantities: dict[str, int]) -> dict[str, PushResult]:
        """GET the whole inventory, set our quantities, PUT all of it back."""
        path = f"{API}/listings/{listing_id}/inventory"
        try:
            body, found = inventory_for_put(await self.api.call("GET", path), quantities)
            if found:
                await self.api.call("PUT", path, body=body)
        except PartnerRejected as exc:
            if isinstance(exc, Gone):   # the listing was deleted: look for its SKUs elsewhere next time
                for sku in quantities:
                    self._listing_of.pop(sku, None)
            return {sku: PushResult(sku, False, str(exc)) for sku in quantities}
        results = {}
        for sku in quantities:
            if sku in found:
                results[sku] = PushResult(sku, True)
            else:
                self._listing_of.pop(sku, None)
                results[sku] = PushResult(sku, False, f"listing {listing_id} no longer carries this SKU")
        return results



def _header(headers: Mapping[str, str], name: str) -> str:
    found = headers.get(name)
    if found is None:
        found = next((value for key, value in headers.items() if key.lower() == name), None)
    return found or ""
