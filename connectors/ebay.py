"""eBay, through the Trading API over SOAP: each of our SKUs is a fixed-price listing tracked by SKU.
We set quantities with ReviseInventoryStatus (at most four items a call, the calls of one push sent
side by side), poll GetOrders by modification time, read listings back with GetItem, and take
Platform Notifications (FixedPriceTransaction) at the ingress, reading the orders they name back
from eBay. eBay itself says to poll GetOrders as
well as listen, so both run; an order seen both ways dedupes on its event id.

Credentials (`spec.credentials`; a config value "env:NAME" is read from the environment):
  auth_token                 the seller's Auth'n'Auth token (SOAP header RequesterCredentials)
  app_id, dev_id, cert_id    the application's keys: app_id names the app in each call's URL, and
                             all three sign Platform Notifications

Options (`spec.options`):
  wsdl_url        where the WSDL is read (default `{base_url}/wsdl`)
  version         the Trading API version (default 1423); site_id (default 0, the US site)
  lookback_hours  how far back the first poll reaches (default 24; eBay allows 30 days)
  rate_limit      {"calls": n, "window_s": s}: another short-duration limit than eBay's 6,000/15 s
  rate_limit_wait_s  how long to stay away after eBay's error 518 (default 15)

cancel_at_partner stays False: the Trading API cancels an order only at the buyer's request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from connectors.base import (
    Connector,
    Listing,
    OrderEvent,
    OrderPage,
    PartnerError,
    PartnerRejected,
    PartnerSpec,
    PushResult,
)
from connectors.ebay_format import (
    MAX_INVENTORY_STATUSES,
    REVISE_LIMIT,
    OrderCursor,
    chunks,
    configured_limit,
    ebay_time,
    errors_text,
    order_event,
    push_results,
    read_notification,
    signature_ok,
)
from connectors.ebay_soap import EbayApi
from connectors.limits import Limiter, RateSpec

OVERLAP = 60.0           # each poll window re-reads this much of the last one: late writes, page shifts
MOST_ORDERS_PAGE = 100   # eBay's EntriesPerPage ceiling
READ_AT_ONCE = 8         # GetItem calls in flight during a reconciliation


class EbayConnector(Connector):
    kind: ClassVar[str] = "ebay"
    limits: ClassVar[Mapping[str, RateSpec]] = {"revise": REVISE_LIMIT}
    # A push of up to 40 goes out as ten concurrent calls of four.
    max_push_batch: ClassVar[int] = 10 * MAX_INVENTORY_STATUSES
    capabilities: ClassVar[tuple[str, ...]] = ("push", "poll", "webhook")

    @classmethod
    def rates(cls, spec: PartnerSpec) -> Mapping[str, RateSpec]:
        # GetOrders and GetItem fall only under eBay's daily call limits, which publish no rate: we
        # ASSUME 50 a second is polite (a reconciliation of 400 SKUs takes 8 s).
        return {"revise": configured_limit(spec.options), "read": RateSpec(50.0, 50.0)}

    def __init__(self, spec: PartnerSpec, session: Any = None, limiter: Limiter | None = None):
        super().__init__(spec, session, limiter)
        self.api = EbayApi(self)
        self._item_ids: dict[str, str] = {}   # sku -> ItemID, learnt from the answers
        self._lookback = float(spec.options.get("lookback_hours", 24)) * 3600

    async def start(self) -> None:
        await self.api.client()

    async def close(self) -> None:
        await self.api.close()

    # --- stock ---------------------------------------------------------------------------------

    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        batches = list(chunks(listings))
        answers = await asyncio.gather(*(self._revise(batch) for batch in batches))
        return [result for outcome in answers for result in outcome]

    async def _revise(self, batch: Sequence[Listing]) -> list[PushResult]:
        statuses = [{"SKU": listing.sku, "Quantity": max(0, listing.quantity)} for listing in batch]
        payload = await self.api.call("ReviseInventoryStatus", "revise", InventoryStatus=statuses)
        for status in payload.get("InventoryStatus") or []:
            if status.get("SKU") and status.get("ItemID"):
                self._item_ids[str(status["SKU"])] = str(status["ItemID"])
        return push_results(batch, self._item_ids, payload)

    async def read_listings(self, skus: Sequence[str]) -> dict[str, int]:
        gate = asyncio.Semaphore(READ_AT_ONCE)
        unique = list(dict.fromkeys(skus))
        found = await asyncio.gather(*(self._shown(sku, gate) for sku in unique))
        return {sku: shown for sku, shown in zip(unique, found, strict=True) if shown is not None}

    async def _shown(self, sku: str, gate: asyncio.Semaphore) -> int | None:
        """eBay's Quantity counts what sold too: what shoppers see is Quantity - QuantitySold."""
        async with gate:
            payload = await self.api.call("GetItem", "read", SKU=sku)
        if payload.get("Ack") == "Failure":
            return None  # no active listing has this SKU: eBay shows none of it
        item = payload.get("Item") or {}
        sold = int((item.get("SellingStatus") or {}).get("QuantitySold") or 0)
        return max(0, int(item.get("Quantity") or 0) - sold)

    # --- orders --------------------------------------------------------------------------------

    async def fetch_orders(self, cursor: str | None, page_size: int) -> OrderPage:
        now = time.time()
        try:
            state = OrderCursor.decode(cursor) if cursor else OrderCursor(now - self._lookback)
        except (ValueError, TypeError, KeyError):
            state = OrderCursor(now - self._lookback)  # a cursor we cannot read: events dedupe
        state = state.window(now)
        payload = await self.api.call(
            "GetOrders", "read", OrderRole="Seller",
            ModTimeFrom=ebay_time(state.mod_from), ModTimeTo=ebay_time(state.mod_to or now),
            Pagination={"EntriesPerPage": max(1, min(page_size, MOST_ORDERS_PAGE)), "PageNumber": state.page})
        if payload.get("Ack") == "Failure":
            raise PartnerRejected(f"eBay GetOrders: {errors_text(payload)}")
        orders = (payload.get("OrderArray") or {}).get("Order") or []
        events = [event for order in orders if (event := order_event(order))]
        more = bool(payload.get("HasMoreOrders"))
        return OrderPage(events, state.after(more, OVERLAP).encode(), more=more)

    # --- Platform Notifications ----------------------------------------------------------------

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        return signature_ok(read_notification(body), self.spec.credentials, time.time())

    def webhook_event_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        note = read_notification(body)
        return None if note is None else note.delivery_id

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[OrderEvent]:
        """eBay's NotificationSignature covers the Timestamp and our keys but not the body, so a
        signed notification could be replayed with other lines within its ten minutes. We take only
        the order ids from it and read those orders from eBay (GetOrders by OrderIDArray): what is
        applied is what eBay says. A notification with no transaction (ItemSold names only the
        item) adds nothing the next GetOrders poll will not bring."""
        note = read_notification(body)
        if note is None:
            raise PartnerRejected("eBay notification is not a SOAP envelope of the Trading API")
        order_ids = list(dict.fromkeys(event.order_id for event in note.events))
        if not order_ids:
            return []
        payload = await self.api.call("GetOrders", "read", OrderRole="Seller",
                                      OrderIDArray={"OrderID": order_ids[:MOST_ORDERS_PAGE]})
        if payload.get("Ack") == "Failure":
            raise PartnerError(f"eBay GetOrders for a notification: {errors_text(payload)}")
        orders = (payload.get("OrderArray") or {}).get("Order") or []
        return [event for order in orders if (event := order_event(order))]
