"""Amazon's Selling Partner API, simulated: LWA tokens, listings (patch, get, search),
JSON_LISTINGS_FEED with documents behind presigned "S3" URLs this server also serves, the Orders API
with NextToken paging, and ORDER_CHANGE notifications in a small SQS-like queue the connector polls.
Every operation has its own server bucket at the published rate (amazon_format.LIMITS).

Options (config.options): marketplace_id (ATVPDKIKX0DER), queue ("order-change"), feed_seconds (0.2, a
feed's processing time), notifications (True; False leaves orders to getOrders polling),
visibility_timeout (30, when the receive names none). `config.duplicate_rate` is the share of
notifications SQS delivers twice. `POST /_sim/tokens/expire` expires every access token now.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import math
import random
import secrets
import string
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from connectors import amazon_format as fmt
from connectors.base import OrderLine
from connectors.simulators.base import SimConfig, SimOrder, Simulator

Handler = Callable[[web.Request], Awaitable[web.Response]]
_EXPIRED = "The access token you provided has expired."
_INVALID = "The access token you provided is revoked, malformed or invalid."
_CODES = {400: "InvalidInput", 403: "Unauthorized", 404: "NotFound", 413: "RequestTooLarge",
          500: "InternalFailure", 503: "ServiceUnavailable"}
_STATUSES = {"shipped": "Shipped", "cancelled": "Canceled"}
_OrdersQuery = tuple[str, float, int, tuple[int, str] | None]


@dataclass
class _Message:
    message_id: str
    body: str
    visible_at: float = 0.0


class NotificationQueue:
    """An SQS standard queue as a poller sees it: at least once, hidden while received, shown again
    after the visibility timeout unless deleted."""

    def __init__(self) -> None:
        self.messages: dict[str, _Message] = {}
        self._handles: dict[str, str] = {}

    def send(self, body: str) -> None:
        message_id = str(uuid.uuid4())
        self.messages[message_id] = _Message(message_id, body)

    def receive(self, limit: int, visibility: float) -> list[dict[str, str]]:
        now, out = time.monotonic(), list[dict[str, str]]()
        for message in self.messages.values():
            if len(out) >= limit:
                break
            if message.visible_at <= now:
                message.visible_at = now + visibility
                handle = secrets.token_urlsafe(32)
                self._handles[handle] = message.message_id
                out.append({"MessageId": message.message_id, "ReceiptHandle": handle, "Body": message.body,
                            "MD5OfBody": hashlib.md5(message.body.encode()).hexdigest()})
        return out

    def delete(self, handles: list[str]) -> tuple[list[str], list[str]]:
        done, unknown = [], []
        for handle in handles:
            message_id = self._handles.pop(handle, None)
            if message_id is None:
                unknown.append(handle)
            else:
                self.messages.pop(message_id, None)
                done.append(handle)
        return done, unknown


class AmazonSimulator(Simulator):
    kind = "amazon"

    def __init__(self, config: SimConfig):
        super().__init__(config)
        options = config.options
        self.marketplace = str(options.get("marketplace_id", fmt.DEFAULT_MARKETPLACE))
        self.queue_name = str(options.get("queue", "order-change"))
        self.feed_seconds = float(options.get("feed_seconds", 0.2))
        self.notifications = bool(options.get("notifications", True))
        self.visibility_timeout = float(options.get("visibility_timeout", 30))
        self.queue = NotificationQueue()
        self.tokens: dict[str, float] = {}            # access token -> monotonic expiry
        self.documents: dict[str, bytes | None] = {}  # feed document id -> content (None: not uploaded)
        self.feeds: dict[str, dict[str, Any]] = {}

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
        api, items = self._api, fmt.LISTINGS_PATH
        return [
            web.post("/auth/o2/token", self._issue_token),
            web.post("/_sim/tokens/expire", self._expire_tokens),
            web.get(items + "/{sellerId}", api("searchListingsItems", self._search_listings)),
            web.get(items + "/{sellerId}/{sku}", api("getListingsItem", self._get_listing)),
            web.patch(items + "/{sellerId}/{sku}", api("patchListingsItem", self._patch_listing)),
            web.post(fmt.FEEDS_PATH + "/documents", api("createFeedDocument", self._create_document)),
            web.get(fmt.FEEDS_PATH + "/documents/{documentId}", api("getFeedDocument", self._get_document)),
            web.post(fmt.FEEDS_PATH + "/feeds", api("createFeed", self._create_feed)),
            web.get(fmt.FEEDS_PATH + "/feeds/{feedId}", api("getFeed", self._get_feed)),
            web.get(fmt.ORDERS_PATH, api("getOrders", self._get_orders)),
            web.get(fmt.ORDERS_PATH + "/{orderId}/orderItems", api("getOrderItems", self._get_order_items)),
            web.put("/s3/feeds/{documentId}", self._upload_document),
            web.get("/s3/feeds/{documentId}", self._download_document),
            web.post("/sqs/{queue}/receive", self._receive_messages),
            web.post("/sqs/{queue}/delete", self._delete_messages),
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
        spec = fmt.LIMITS.get(op)

        async def guarded(request: web.Request) -> web.Response:
            refused = self._refused(request)
            if refused is None and spec is not None:
                refused = self.over_limit(op, spec)
            if refused is not None:
                return refused
            answer = await handler(request)
            if spec is not None and answer.status < 400:
                answer.headers["x-amzn-RateLimit-Limit"] = f"{spec.rate:g}"
            return answer

        return guarded

    def _refused(self, request: web.Request) -> web.Response | None:
        expires = self.tokens.get(request.headers.get("x-amz-access-token", ""))
        if expires is None or time.monotonic() >= expires:
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
        self.tokens[token] = time.monotonic() + ttl
        self.stats["tokens_issued"] += 1
        lifetime = int(ttl) if ttl.is_integer() else ttl   # LWA says 3600; tests want less than a second
        return web.json_response({"access_token": token, "refresh_token": creds["refresh_token"],
                                  "token_type": "bearer", "expires_in": lifetime})

    def expire_tokens(self) -> None:
        now = time.monotonic()
        self.tokens = dict.fromkeys(self.tokens, now)

    async def _expire_tokens(self, _request: web.Request) -> web.Response:
        self.expire_tokens()
        return web.json_response({"expired": len(self.tokens)})

    # --- listings --------------------------------------------------------------------------------------

    def _summary(self, sku: str) -> dict[str, Any]:
        return {"marketplaceId": self.marketplace, "asin": _asin(sku), "itemName": sku,
                "productType": fmt.DEFAULT_PRODUCT_TYPE, "conditionType": "new_new",
                "status": ["BUYABLE"] if self.listings.get(sku, 0) > 0 else ["DISCOVERABLE"]}

    async def _search_listings(self, request: web.Request) -> web.Response:
        size = min(20, max(1, _int(request.query.get("pageSize"), 10)))
        start = _int(_unpack(request.query.get("pageToken", "")).get("offset"), 0)
        skus = sorted(self.listings)
        items = [{"sku": sku, "summaries": [self._summary(sku)]} for sku in skus[start:start + size]]
        page = {"numberOfResults": len(skus), "pagination": {}, "items": items}
        if start + size < len(skus):
            page["pagination"] = {"nextToken": _pack({"offset": start + size})}
        return web.json_response(page)

    async def _get_listing(self, request: web.Request) -> web.Response:
        sku = request.match_info["sku"]
        if sku not in self.listings:
            return self.error_response(404, f"SKU '{sku}' not found in marketplace {self.marketplace}")
        included = request.query.get("includedData", "summaries").split(",")
        item: dict[str, Any] = {"sku": sku}
        if "summaries" in included:
            item["summaries"] = [self._summary(sku)]
        if "fulfillmentAvailability" in included:
            availability = {"fulfillmentChannelCode": "DEFAULT", "quantity": self.listings[sku]}
            item["fulfillmentAvailability"] = [availability]
        return web.json_response(item)

    async def _patch_listing(self, request: web.Request) -> web.Response:
        sku = request.match_info["sku"]
        try:
            body = await request.json()
        except ValueError:
            return self.error_response(400, "Request body is not valid JSON")
        issues = self._apply(sku, body)
        return web.json_response({"sku": sku, "status": "INVALID" if issues else "ACCEPTED",
                                  "submissionId": uuid.uuid4().hex, "issues": issues})

    def _apply(self, sku: str, message: Any) -> list[dict[str, Any]]:
        """Set the shown quantity from one patch or feed message; the issues when it cannot."""
        if sku not in self.listings:
            return [_issue("4000001", f"SKU '{sku}' does not exist for this seller in {self.marketplace}.")]
        quantity = fmt.patched_quantity(message)
        if quantity is None or quantity < 0 or not isinstance(message.get("productType"), str):
            return [_issue("90000900", "The patch must replace /attributes/fulfillment_availability "
                                       "with a non-negative DEFAULT quantity.")]
        self.listings[sku] = quantity
        self.stats["quantity_updates"] += 1
        return []

    # --- feeds ---------------------------------------------------------------------------------------

    def _document_url(self, request: web.Request, document_id: str) -> str:
        signature = hashlib.sha256(f"{document_id}:{self.seller_id}".encode()).hexdigest()
        return f"{request.url.origin()}/s3/feeds/{document_id}?X-Amz-Signature={signature}"

    def _signed(self, request: web.Request) -> str | None:
        document_id = request.match_info["documentId"]
        expected = self._document_url(request, document_id).rsplit("=", 1)[1]
        if document_id in self.documents and request.query.get("X-Amz-Signature") == expected:
            return document_id
        return None

    async def _create_document(self, request: web.Request) -> web.Response:
        document_id = f"amzn1.tortuga.4.na.{uuid.uuid4()}"
        self.documents[document_id] = None
        url = self._document_url(request, document_id)
        return web.json_response({"feedDocumentId": document_id, "url": url}, status=201)

    async def _upload_document(self, request: web.Request) -> web.Response:
        document_id = self._signed(request)
        if document_id is None:
            return web.Response(status=403, text="<Error><Code>SignatureDoesNotMatch</Code></Error>",
                                content_type="application/xml")
        self.documents[document_id] = await request.read()
        return web.Response(status=200)

    async def _download_document(self, request: web.Request) -> web.Response:
        document_id = self._signed(request)
        content = self.documents.get(document_id or "")
        if content is None:
            return web.Response(status=404, text="<Error><Code>NoSuchKey</Code></Error>",
                                content_type="application/xml")
        return web.Response(body=content, content_type="application/json")

    async def _get_document(self, request: web.Request) -> web.Response:
        document_id = request.match_info["documentId"]
        if document_id not in self.documents:
            return self.error_response(404, f"Feed document {document_id} not found")
        url = self._document_url(request, document_id)
        return web.json_response({"feedDocumentId": document_id, "url": url})

    async def _create_feed(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            document_id = str(body["inputFeedDocumentId"])
        except (ValueError, KeyError, TypeError):
            return self.error_response(400, "feedType, marketplaceIds and inputFeedDocumentId are required")
        marketplaces = body.get("marketplaceIds") or ()
        if body.get("feedType") != "JSON_LISTINGS_FEED" or self.marketplace not in marketplaces:
            return self.error_response(400, "Only JSON_LISTINGS_FEED for this marketplace is simulated")
        if self.documents.get(document_id) is None:
            return self.error_response(400, f"Feed document {document_id} has no content")
        feed_id = str(50_000_000_000 + self.next_id())
        self.feeds[feed_id] = {"feedId": feed_id, "feedType": "JSON_LISTINGS_FEED",
                               "marketplaceIds": [self.marketplace], "createdTime": fmt.iso(time.time()),
                               "processingStatus": "IN_QUEUE"}
        self.spawn(self._process_feed(feed_id, document_id))
        return web.json_response({"feedId": feed_id}, status=202)

    async def _get_feed(self, request: web.Request) -> web.Response:
        feed = self.feeds.get(request.match_info["feedId"])
        if feed is None:
            return self.error_response(404, f"Feed {request.match_info['feedId']} not found")
        return web.json_response(feed)

    async def _process_feed(self, feed_id: str, document_id: str) -> None:
        feed = self.feeds[feed_id]
        await asyncio.sleep(self.feed_seconds / 2)
        feed.update(processingStatus="IN_PROGRESS", processingStartTime=fmt.iso(time.time()))
        await asyncio.sleep(self.feed_seconds / 2)
        report, fatal = self._feed_report(feed_id, self.documents.get(document_id) or b"")
        result_id = f"amzn1.tortuga.4.na.{uuid.uuid4()}"
        self.documents[result_id] = json.dumps(report).encode()
        feed.update(processingStatus="FATAL" if fatal else "DONE", processingEndTime=fmt.iso(time.time()),
                    resultFeedDocumentId=result_id)
        self.stats["feeds_processed"] += 1

    def _feed_report(self, feed_id: str, content: bytes) -> tuple[dict[str, Any], bool]:
        header = {"sellerId": self.seller_id, "version": "2.0", "feedId": feed_id}
        try:
            document = json.loads(content)
            messages = document["messages"]
            if document["header"]["sellerId"] != self.seller_id:
                raise ValueError("the header's sellerId is not this seller")
        except (ValueError, KeyError, TypeError) as exc:
            issue = {"messageId": 0, **_issue("100001", f"The feed could not be processed: {exc}")}
            summary = {"errors": 1, "messagesProcessed": 0}
            return {"header": header, "issues": [issue], "summary": summary}, True
        issues = [{"messageId": message.get("messageId", 0), **issue} for message in messages
                  for issue in self._apply(str(message.get("sku", "")), message)]
        invalid = len({issue["messageId"] for issue in issues})
        summary = {"errors": len(issues), "warnings": 0, "messagesProcessed": len(messages),
                   "messagesAccepted": len(messages) - invalid, "messagesInvalid": invalid}
        return {"header": header, "issues": issues, "summary": summary}, False

    # --- orders --------------------------------------------------------------------------------------

    async def record_order(self, sku: str, quantity: int) -> SimOrder:
        digits = f"{random.randrange(10**16, 10**17)}"
        order_id = f"{digits[:3]}-{digits[3:10]}-{digits[10:]}"
        now = time.time()
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
        order.status, order.updated_at = new, time.time()
        self._notify(order)

    def _notify(self, order: SimOrder) -> None:
        if not self.notifications:
            return
        fact = fmt.OrderFact(order.order_id, order.status, order.created_at, order.updated_at,
                             (OrderLine(order.sku, order.quantity),))
        notification = fmt.order_change_notification(fact, self.seller_id, self.marketplace,
                                                     notification_id=str(uuid.uuid4()))
        body = json.dumps(notification)
        self.queue.send(body)
        self.stats["notifications_sent"] += 1
        if random.random() < self.config.duplicate_rate:
            self.queue.send(body)
            self.stats["notifications_duplicated"] += 1

    def _order_row(self, order: SimOrder) -> dict[str, Any]:
        shipped = order.quantity if order.status == "Shipped" else 0
        return {"AmazonOrderId": order.order_id, "PurchaseDate": fmt.iso(order.created_at),
                "LastUpdateDate": fmt.iso(order.updated_at), "OrderStatus": order.status,
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
            payload["NextToken"] = _pack({"field": field, "after": after, "size": size, "key": list(last)})
        return web.json_response({"payload": payload})

    def _orders_query(self, request: web.Request) -> _OrdersQuery | web.Response:
        """(order field, lower bound, page size, keyset position) from the query or its NextToken."""
        query = request.query
        if "NextToken" in query:
            token = _unpack(query["NextToken"])
            try:
                key = (int(token["key"][0]), str(token["key"][1]))
                return str(token["field"]), float(token["after"]), int(token["size"]), key
            except (KeyError, TypeError, ValueError, IndexError):
                return self.error_response(400, "Invalid NextToken")
        given = [name for name in ("LastUpdatedAfter", "CreatedAfter") if name in query]
        if len(given) != 1:
            return self.error_response(400, "Exactly one of CreatedAfter and LastUpdatedAfter is required")
        try:
            after = fmt.parse_iso(query[given[0]])
        except ValueError:
            return self.error_response(400, f"{given[0]} is not an ISO 8601 date")
        field = "updated_at" if given[0] == "LastUpdatedAfter" else "created_at"
        return field, after, min(100, max(1, _int(query.get("MaxResultsPerPage"), 100))), None

    async def _get_order_items(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["orderId"])
        if order is None:
            return self.error_response(404, f"Order {request.match_info['orderId']} not found")
        item = {"ASIN": self._summary(order.sku)["asin"], "SellerSKU": order.sku,
                "OrderItemId": fmt.order_item_id(order.order_id, 1), "Title": order.sku,
                "QuantityOrdered": order.quantity,
                "QuantityShipped": order.quantity if order.status == "Shipped" else 0}
        return web.json_response({"payload": {"AmazonOrderId": order.order_id, "OrderItems": [item]}})

    # --- the queue -------------------------------------------------------------------------------------

    async def _queue_body(self, request: web.Request) -> dict[str, Any] | web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        if request.match_info["queue"] != self.queue_name:
            return web.json_response({"__type": "com.amazonaws.sqs#QueueDoesNotExist",
                                      "message": "The specified queue does not exist."}, status=400)
        try:
            body = await request.json()
        except ValueError:
            body = None
        return body if isinstance(body, dict) else {}

    async def _receive_messages(self, request: web.Request) -> web.Response:
        body = await self._queue_body(request)
        if isinstance(body, web.Response):
            return body
        limit = min(fmt.SQS_BATCH, max(1, _int(body.get("MaxNumberOfMessages"), 1)))
        visibility = float(body.get("VisibilityTimeout") or self.visibility_timeout)
        return web.json_response({"Messages": self.queue.receive(limit, visibility)})

    async def _delete_messages(self, request: web.Request) -> web.Response:
        body = await self._queue_body(request)
        if isinstance(body, web.Response):
            return body
        done, unknown = self.queue.delete([str(h) for h in body.get("ReceiptHandles") or []][:fmt.SQS_BATCH])
        self.stats["messages_deleted"] += len(done)
        failed = [{"Id": handle, "Code": "ReceiptHandleIsInvalid", "SenderFault": True} for handle in unknown]
        return web.json_response({"Successful": [{"Id": handle} for handle in done], "Failed": failed})


def _asin(sku: str) -> str:
    return f"B0{hashlib.sha1(sku.encode()).hexdigest()[:8].upper()}"


def _issue(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "severity": "ERROR"}


def _lwa_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


def _request_id() -> dict[str, str]:
    return {"x-amzn-RequestId": str(uuid.uuid4())}


def _pack(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def _unpack(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        return {}
    return data if isinstance(data, dict) else {}


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default
