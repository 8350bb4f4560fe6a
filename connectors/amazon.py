"""Amazon Selling Partner API connector (kind "amazon").

Credentials (AmazonSimulator checks the same dict):
  client_id, client_secret   the LWA client of our app
  refresh_token              the seller's LWA authorisation of our app
  seller_id                  the seller's merchant token (listings paths)
  access_token, access_token_expires_at (unix seconds)   written back here on every refresh

Options (defaults match the simulator):
  marketplace_id        ATVPDKIKX0DER
  product_type          HOME_BED_AND_BATH, sent with every listing patch
  feed_threshold        25: a push this big goes as one JSON_LISTINGS_FEED when createFeed has a token
  auth_url              <base_url>/auth/o2/token (the real one is https://api.amazon.com/auth/o2/token)
  queue_url             <base_url>/sqs/order-change: the queue our ORDER_CHANGE subscription fills
  visibility_timeout    60: seconds a received message stays hidden before SQS shows it again
  lookback_seconds      86400: how far back the first getOrders (no cursor yet) reaches
  poll_overlap_seconds  60: getOrders is eventually consistent, so each poll reaches back this far
  feed_poll_seconds     0.5 between getFeed calls; feed_timeout 300 before a feed push gives up

Orders arrive two ways, both giving event ids f"{AmazonOrderId}:{status}" so they dedupe: ORDER_CHANGE
notifications drained from the queue on every fetch (deleted by confirm() after commit, so an
uncommitted page reappears), and getOrders polling, only when its bucket has a token (0.0167/s is
one call a minute; we never wait for it). The queue is read with the LWA token: a simplification of
the simulator, the real SQS wants AWS credentials. Amazon has no webhooks: verify_webhook is False.

The HTTP boundary and LWA tokens are in amazon_api, the feed push in amazon_feeds, the formats in
amazon_format.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connectors import amazon_format as fmt
from connectors.amazon_api import SellingPartnerApi
from connectors.amazon_feeds import FeedPush, feed_has_room
from connectors.base import (
    Connector,
    Listing,
    OrderEvent,
    OrderLine,
    OrderPage,
    PartnerError,
    PartnerSpec,
    PushResult,
    RateLimited,
)
from connectors.limits import Limiter

_LINES_KEPT = 10_000   # order lines remembered so a polled order needs no getOrderItems


@dataclass(frozen=True, slots=True)
class AmazonOptions:
    marketplace_id: str
    product_type: str
    feed_threshold: int
    auth_url: str
    queue_url: str
    visibility_timeout: int
    lookback_seconds: float
    poll_overlap_seconds: float
    feed_poll_seconds: float
    feed_timeout: float

    @classmethod
    def of(cls, spec: PartnerSpec) -> AmazonOptions:
        base, given = spec.base_url.rstrip("/"), spec.options
        return cls(str(given.get("marketplace_id", fmt.DEFAULT_MARKETPLACE)),
                   str(given.get("product_type", fmt.DEFAULT_PRODUCT_TYPE)),
                   int(given.get("feed_threshold", 25)),
                   str(given.get("auth_url", f"{base}/auth/o2/token")),
                   str(given.get("queue_url", f"{base}/sqs/order-change")).rstrip("/"),
                   int(given.get("visibility_timeout", 60)), float(given.get("lookback_seconds", 86400)),
                   float(given.get("poll_overlap_seconds", 60)), float(given.get("feed_poll_seconds", 0.5)),
                   float(given.get("feed_timeout", 300)))


class AmazonConnector(Connector):
    kind = "amazon"
    limits = fmt.LIMITS
    max_push_batch = 100
    capabilities = ("push", "poll")

    def __init__(self, spec: PartnerSpec, session: Any = None, limiter: Limiter | None = None):
        super().__init__(spec, session, limiter)
        self.options = AmazonOptions.of(spec)
        self.api = SellingPartnerApi(self, self.options.auth_url)
        self.listed: set[str] = set()   # the seller's SKUs in our marketplace, learnt at start()
        self._lines: dict[str, tuple[OrderLine, ...]] = {}

    @property
    def refreshes(self) -> int:
        """LWA token refreshes so far."""
        return self.api.refreshes

    # --- listings --------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.api.access_token()
        self.listed = await self._search_listings()

    async def _search_listings(self) -> set[str]:
        skus: set[str] = set()
        url = self.api.url(f"{fmt.LISTINGS_PATH}/{self._seller}")
        page_token: str | None = None
        while True:
            params = {"marketplaceIds": self.options.marketplace_id, "pageSize": "20"}
            if page_token:
                params["pageToken"] = page_token
            page = await self.api.call("searchListingsItems", "GET", url, params=params)
            skus.update(str(item["sku"]) for item in page.get("items") or [] if item.get("sku"))
            page_token = (page.get("pagination") or {}).get("nextToken")
            if not page_token:
                return skus

    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        if not listings:
            return []
        if len(listings) >= self.options.feed_threshold and feed_has_room(self.limiter):
            return await self._feed().push(listings)
        return [await self._patch(listing) for listing in listings]

    def _feed(self) -> FeedPush:
        options = self.options
        return FeedPush(self.api, self._seller, options.marketplace_id, options.product_type,
                        options.feed_poll_seconds, options.feed_timeout)

    async def _patch(self, listing: Listing) -> PushResult:
        answer = await self.api.call("patchListingsItem", "PATCH", self._item_url(listing.sku),
                                  params={"marketplaceIds": self.options.marketplace_id},
                                  body=fmt.patch_body(self.options.product_type, listing.quantity))
        failure = fmt.patch_outcome(answer)
        return PushResult(listing.sku, not failure, failure)

    async def read_listings(self, skus: Sequence[str]) -> dict[str, int]:
        shown: dict[str, int] = {}
        for sku in skus:
            item = await self.api.call("getListingsItem", "GET", self._item_url(sku), missing_ok=True,
                                    params={"marketplaceIds": self.options.marketplace_id,
                                            "includedData": "fulfillmentAvailability"})
            quantity = fmt.fulfillment_quantity(item) if item else None
            if quantity is not None:
                shown[sku] = quantity
        return shown

    # --- orders --------------------------------------------------------------------------------------

    async def fetch_orders(self, cursor: str | None, page_size: int) -> OrderPage:
        state = fmt.OrdersCursor.decode(cursor, time.time() - self.options.lookback_seconds)
        events, received = await self._drain_queue(page_size)
        if not self.limiter.would_wait("getOrders"):
            try:
                state = await self._poll_orders(state, page_size, events)
            except RateLimited:
                pass   # polling is the backstop: the limiter now knows, and the queue's events stand
            except PartnerError:
                if not events:
                    raise
        paging = state.next_token is not None and not self.limiter.would_wait("getOrders")
        more = received >= page_size or paging
        return OrderPage(fmt.merge_events(events), state.encode(), more)

    async def _drain_queue(self, page_size: int) -> tuple[list[OrderEvent], int]:
        events: list[OrderEvent] = []
        idle: list[str] = []   # messages that mean nothing to us: delete now, nothing to commit
        received = 0
        while received < page_size:
            want = min(fmt.SQS_BATCH, page_size - received)
            answer = await self.api.call("receiveMessage", "POST", f"{self.options.queue_url}/receive",
                                      body={"MaxNumberOfMessages": want,
                                            "VisibilityTimeout": self.options.visibility_timeout})
            messages = answer.get("Messages") or []
            received += len(messages)
            for message in messages:
                found = self._message_events(message)
                events.extend(found)
                if not found:
                    idle.append(str(message["ReceiptHandle"]))
            if len(messages) < want:
                break
        await self._delete_messages(idle)
        return events, received

    def _message_events(self, message: dict[str, Any]) -> list[OrderEvent]:
        try:
            notification_id, fact = fmt.notification_fact(message.get("Body") or "")
        except ValueError:
            return []
        if fact.lines:
            self._remember(fact.order_id, fact.lines)
        raw = {"receipt_handles": (str(message["ReceiptHandle"]),), "notification_id": notification_id}
        return fmt.fact_events(fact, raw)

    async def _poll_orders(self, state: fmt.OrdersCursor, page_size: int,
                           events: list[OrderEvent]) -> fmt.OrdersCursor:
        params = {"MarketplaceIds": self.options.marketplace_id,
                  "MaxResultsPerPage": str(min(100, page_size))}
        if state.next_token:
            params["NextToken"] = state.next_token
        else:
            params["LastUpdatedAfter"] = fmt.iso(state.after - self.options.poll_overlap_seconds)
        answer = await self.api.call("getOrders", "GET", self.api.url(fmt.ORDERS_PATH), params=params)
        payload = answer["payload"]
        newest = state.after
        for order in payload.get("Orders") or []:
            fact = fmt.polled_fact(order)
            newest = max(newest, fact.changed_at)
            if fmt.actionable(fact.status):
                lines = await self._order_lines(fact.order_id)
                events.extend(fmt.fact_events(fmt.with_lines(fact, lines), {"receipt_handles": ()}))
        return state.after_page(payload.get("NextToken"), newest)

    async def _order_lines(self, order_id: str) -> tuple[OrderLine, ...]:
        known = self._lines.get(order_id)
        if known:
            return known
        items: list[dict[str, Any]] = []
        params: dict[str, str] = {}
        while True:
            url = self.api.url(f"{fmt.ORDERS_PATH}/{quote(order_id, safe='')}/orderItems")
            payload = (await self.api.call("getOrderItems", "GET", url, params=params))["payload"]
            items.extend(payload.get("OrderItems") or [])
            if not payload.get("NextToken"):
                break
            params = {"NextToken": payload["NextToken"]}
        lines = fmt.order_lines(items)
        self._remember(order_id, lines)
        return lines

    def _remember(self, order_id: str, lines: tuple[OrderLine, ...]) -> None:
        self._lines[order_id] = lines
        if len(self._lines) > _LINES_KEPT:
            del self._lines[next(iter(self._lines))]

    async def confirm(self, events: Sequence[OrderEvent]) -> None:
        handles = dict.fromkeys(h for event in events for h in event.raw.get("receipt_handles", ()))
        await self._delete_messages(list(handles))

    async def _delete_messages(self, handles: list[str]) -> None:
        for start in range(0, len(handles), fmt.SQS_BATCH):
            await self.api.call("deleteMessage", "POST", f"{self.options.queue_url}/delete",
                             body={"ReceiptHandles": handles[start:start + fmt.SQS_BATCH]})

    # --- helpers ---------------------------------------------------------------------------------------

    @property
    def _seller(self) -> str:
        return quote(self.spec.credentials.get("seller_id", ""), safe="")

    def _item_url(self, sku: str) -> str:
        return self.api.url(f"{fmt.LISTINGS_PATH}/{self._seller}/{quote(sku, safe='')}")

