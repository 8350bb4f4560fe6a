"""Amazon Selling Partner API connector (kind "amazon").

Credentials (AmazonSimulator checks the LWA ones):
  client_id, client_secret   the LWA client of our app
  refresh_token              the seller's LWA authorisation of our app
  seller_id                  the seller's merchant token (listings paths)
  access_token, access_token_expires_at (unix seconds)   written back here on every refresh
  aws_access_key_id, aws_secret_access_key   the app's AWS keys, which sign (SigV4) the SQS reads

Options (defaults match the simulator):
  marketplace_id        ATVPDKIKX0DER
  product_type          HOME_BED_AND_BATH, sent with every listing patch
  feed_threshold        25: a push this big goes as one JSON_LISTINGS_FEED when createFeed has a token
  auth_url              <base_url>/auth/o2/token (the real one is https://api.amazon.com/auth/o2/token)
  queue_url             the SQS queue ORDER_CHANGE notifications go to; empty: polling only
  sqs_endpoint_url      another SQS endpoint (moto's server in tests and the demo); empty: AWS
  sqs_region            the queue's region; by default read from an AWS queue URL, else us-east-1
  subscribe             true: at start, create the Notifications API destination and the
                        ORDER_CHANGE subscription for the queue unless they exist
  destination_name      threadcount-order-change
  visibility_timeout    60: seconds a received message stays hidden before SQS shows it again
  lookback_seconds      86400: how far back the first searchOrders (no cursor yet) reaches
  poll_overlap_seconds  60: searchOrders is eventually consistent, so each poll reaches back this far
  feed_poll_seconds     0.5 between getFeed calls; feed_timeout 300 before a feed push gives up

Orders arrive two ways, both giving event ids f"{AmazonOrderId}:{status}" so they dedupe: ORDER_CHANGE
notifications read from the SQS queue on every fetch (deleted by confirm() after commit, so an
uncommitted page reappears; a NotificationId already confirmed is deleted on sight), and polling
Orders API v2026-01-01's searchOrders (items included; v0 is removed on 2027-03-27), only when its
bucket has a token (0.0056/s is one call in three minutes; we never wait for it). A failing queue
read never stops the poll. Amazon has no webhooks: verify_webhook is False.

The HTTP boundary and LWA tokens are in amazon_api, the queue in amazon_sqs, the Notifications API
setup in amazon_notifications, the feed push in amazon_feeds, the formats in amazon_format.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connectors import amazon_format as fmt
from connectors.amazon_api import SellingPartnerApi
from connectors.amazon_feeds import FeedPush, feed_has_room
from connectors.amazon_notifications import subscribe_order_change
from connectors.amazon_sqs import OrderChangeQueue, QueueSettings
from connectors.base import (
    Connector,
    Listing,
    OrderEvent,
    OrderPage,
    PartnerError,
    PartnerSpec,
    PushResult,
    RateLimited,
)
from connectors.limits import Limiter

log = logging.getLogger(__name__)
_NOTIFICATIONS_KEPT = 10_000   # confirmed NotificationIds: SQS redelivers, at least once


@dataclass(frozen=True, slots=True)
class AmazonOptions:
    marketplace_id: str
    product_type: str
    feed_threshold: int
    auth_url: str
    queue: QueueSettings | None
    subscribe: bool
    destination_name: str
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
                   str(given.get("auth_url", f"{base}/auth/o2/token")), _queue(spec),
                   bool(given.get("subscribe", True)),
                   str(given.get("destination_name", "threadcount-order-change")),
                   float(given.get("lookback_seconds", 86400)),
                   float(given.get("poll_overlap_seconds", 60)), float(given.get("feed_poll_seconds", 0.5)),
                   float(given.get("feed_timeout", 300)))


def _queue(spec: PartnerSpec) -> QueueSettings | None:
    given, creds = spec.options, spec.credentials
    url = str(given.get("queue_url") or "")
    if not url:
        return None
    return QueueSettings(url, str(given.get("sqs_region") or QueueSettings.region_of(url)),
                         str(given.get("sqs_endpoint_url") or "") or None,
                         creds.get("aws_access_key_id", ""), creds.get("aws_secret_access_key", ""),
                         int(given.get("visibility_timeout", 60)))


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
        self.queue = OrderChangeQueue(self.options.queue) if self.options.queue else None
        self._notified: dict[str, None] = {}   # NotificationIds whose orders committed

    @property
    def refreshes(self) -> int:
        """LWA token refreshes so far."""
        return self.api.refreshes

    # --- listings --------------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.api.access_token()
        self.listed = await self._search_listings()
        if self.queue is not None and self.options.subscribe:
            await subscribe_order_change(self.api, await self.queue.arn(), self.options.destination_name)

    async def close(self) -> None:
        if self.queue is not None:
            await self.queue.close()

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
        events: list[OrderEvent] = []
        received, queue_failure = 0, None
        try:
            received = await self._drain_queue(page_size, events)
        except PartnerError as exc:
            # The queue is one of two ways in: its failure must not keep the poll from running.
            log.warning("amazon %s: the ORDER_CHANGE queue failed: %s", self.spec.id, exc)
            queue_failure = exc
        polled = False
        if not self.limiter.would_wait("searchOrders"):
            try:
                state, polled = await self._poll_orders(state, page_size, events), True
            except RateLimited:
                pass   # polling is the backstop: the limiter now knows, and the queue's events stand
            except PartnerError:
                if not events:
                    raise
        if queue_failure is not None and not polled and not events:
            raise queue_failure
        paging = state.next_token is not None and not self.limiter.would_wait("searchOrders")
        more = received >= page_size or paging
        return OrderPage(fmt.merge_events(events), state.encode(), more)

    async def _drain_queue(self, page_size: int, events: list[OrderEvent]) -> int:
        """Receive up to a page of messages into `events`; the number received."""
        if self.queue is None:
            return 0
        idle: list[str] = []   # messages that mean nothing to us (or nothing new): delete now
        received = 0
        try:
            while received < page_size:
                want = min(10, page_size - received)
                messages = await self.queue.receive(want)
                received += len(messages)
                for message in messages:
                    found = self._message_events(message)
                    events.extend(found)
                    if not found:
                        idle.append(str(message["ReceiptHandle"]))
                if len(messages) < want:
                    break
        finally:
            if idle:
                await self.queue.delete(idle)
        return received

    def _message_events(self, message: dict[str, Any]) -> list[OrderEvent]:
        try:
            notification_id, fact = fmt.notification_fact(message.get("Body") or "")
        except ValueError:
            return []
        if notification_id in self._notified:
            return []   # SQS delivered it again after its orders committed
        raw = {"receipt_handles": (str(message["ReceiptHandle"]),), "notification_ids": (notification_id,)}
        return fmt.fact_events(fact, raw)

    async def _poll_orders(self, state: fmt.OrdersCursor, page_size: int,
                           events: list[OrderEvent]) -> fmt.OrdersCursor:
        # A page token is good only with the first page's filters: the cursor keeps `after` until
        # the paging is done.
        params = {"marketplaceIds": self.options.marketplace_id, "includedData": "FULFILLMENT",
                  "maxResultsPerPage": str(min(100, page_size)),
                  "lastUpdatedAfter": fmt.iso(state.after - self.options.poll_overlap_seconds)}
        if state.next_token:
            params["paginationToken"] = state.next_token
        answer = await self.api.call("searchOrders", "GET", self.api.url(fmt.ORDERS_PATH), params=params)
        newest = state.after
        for order in answer.get("orders") or []:
            try:
                fact = fmt.searched_fact(order)
            except ValueError as exc:
                raise PartnerError(f"searchOrders: {exc}") from exc
            newest = max(newest, fact.changed_at)
            events.extend(fmt.fact_events(fact, {"receipt_handles": ()}))
        return state.after_page((answer.get("pagination") or {}).get("nextToken"), newest)

    async def confirm(self, events: Sequence[OrderEvent]) -> None:
        for notification_id in (n for event in events for n in event.raw.get("notification_ids", ())):
            self._notified[notification_id] = None
        while len(self._notified) > _NOTIFICATIONS_KEPT:
            del self._notified[next(iter(self._notified))]
        handles = dict.fromkeys(h for event in events for h in event.raw.get("receipt_handles", ()))
        if handles and self.queue is not None:
            await self.queue.delete(list(handles))

    # --- helpers ---------------------------------------------------------------------------------------

    @property
    def _seller(self) -> str:
        return quote(self.spec.credentials.get("seller_id", ""), safe="")

    def _item_url(self, sku: str) -> str:
        return self.api.url(f"{fmt.LISTINGS_PATH}/{self._seller}/{quote(sku, safe='')}")

