"""The Amazon simulator's Feeds API for JSON_LISTINGS_FEED: feed documents behind presigned "S3"
URLs this server also serves, feeds processed in the background (IN_QUEUE, IN_PROGRESS, then DONE
or FATAL, over the simulator's `feed_seconds`), and a processing report per feed, itself a document.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulators import amazon_wire as wire
from simulators.amazon_listings import issue

if TYPE_CHECKING:
    from simulators.amazon import AmazonSimulator


class FeedsApi:
    def __init__(self, sim: AmazonSimulator):
        self._sim = sim
        self.documents: dict[str, bytes | None] = {}   # feed document id -> content (None: not uploaded)
        self.feeds: dict[str, dict[str, Any]] = {}

    # --- documents -----------------------------------------------------------------------------------

    def _document_url(self, request: web.Request, document_id: str) -> str:
        signature = hashlib.sha256(f"{document_id}:{self._sim.seller_id}".encode()).hexdigest()
        return f"{request.url.origin()}/s3/feeds/{document_id}?X-Amz-Signature={signature}"

    def _signed(self, request: web.Request) -> str | None:
        document_id = request.match_info["documentId"]
        expected = self._document_url(request, document_id).rsplit("=", 1)[1]
        if document_id in self.documents and request.query.get("X-Amz-Signature") == expected:
            return document_id
        return None

    async def create_document(self, request: web.Request) -> web.Response:
        document_id = f"amzn1.tortuga.4.na.{uuid.uuid4()}"
        self.documents[document_id] = None
        url = self._document_url(request, document_id)
        return web.json_response({"feedDocumentId": document_id, "url": url}, status=201)

    async def upload_document(self, request: web.Request) -> web.Response:
        document_id = self._signed(request)
        if document_id is None:
            return web.Response(status=403, text="<Error><Code>SignatureDoesNotMatch</Code></Error>",
                                content_type="application/xml")
        self.documents[document_id] = await request.read()
        return web.Response(status=200)

    async def download_document(self, request: web.Request) -> web.Response:
        document_id = self._signed(request)
        content = self.documents.get(document_id or "")
        if content is None:
            return web.Response(status=404, text="<Error><Code>NoSuchKey</Code></Error>",
                                content_type="application/xml")
        return web.Response(body=content, content_type="application/json")

    async def get_document(self, request: web.Request) -> web.Response:
        document_id = request.match_info["documentId"]
        if document_id not in self.documents:
            return self._sim.error_response(404, f"Feed document {document_id} not found")
        url = self._document_url(request, document_id)
        return web.json_response({"feedDocumentId": document_id, "url": url})

    # --- feeds ---------------------------------------------------------------------------------------

    async def create_feed(self, request: web.Request) -> web.Response:
        sim = self._sim
        try:
            body = await request.json()
            document_id = str(body["inputFeedDocumentId"])
        except (ValueError, KeyError, TypeError):
            return sim.error_response(400, "feedType, marketplaceIds and inputFeedDocumentId are required")
        marketplaces = body.get("marketplaceIds") or ()
        if body.get("feedType") != "JSON_LISTINGS_FEED" or sim.marketplace not in marketplaces:
            return sim.error_response(400, "Only JSON_LISTINGS_FEED for this marketplace is simulated")
        if self.documents.get(document_id) is None:
            return sim.error_response(400, f"Feed document {document_id} has no content")
        feed_id = str(50_000_000_000 + sim.next_id())
        self.feeds[feed_id] = {"feedId": feed_id, "feedType": "JSON_LISTINGS_FEED",
                               "marketplaceIds": [sim.marketplace],
                               "createdTime": wire.timestamp(sim.clock.time()),
                               "processingStatus": "IN_QUEUE"}
        sim.spawn(self._process(feed_id, document_id))
        return web.json_response({"feedId": feed_id}, status=202)

    async def get_feed(self, request: web.Request) -> web.Response:
        feed = self.feeds.get(request.match_info["feedId"])
        if feed is None:
            return self._sim.error_response(404, f"Feed {request.match_info['feedId']} not found")
        return web.json_response(feed)

    async def _process(self, feed_id: str, document_id: str) -> None:
        feed = self.feeds[feed_id]
        clock = self._sim.clock
        await clock.sleep(self._sim.feed_seconds / 2)
        feed.update(processingStatus="IN_PROGRESS", processingStartTime=wire.timestamp(clock.time()))
        await clock.sleep(self._sim.feed_seconds / 2)
        report, fatal = self._report(feed_id, self.documents.get(document_id) or b"")
        result_id = f"amzn1.tortuga.4.na.{uuid.uuid4()}"
        self.documents[result_id] = json.dumps(report).encode()
        feed.update(processingStatus="FATAL" if fatal else "DONE",
                    processingEndTime=wire.timestamp(clock.time()),
                    resultFeedDocumentId=result_id)
        self._sim.stats["feeds_processed"] += 1

    def _report(self, feed_id: str, content: bytes) -> tuple[dict[str, Any], bool]:
        seller = self._sim.seller_id
        header = {"sellerId": seller, "version": "2.0", "feedId": feed_id}
        try:
            document = json.loads(content)
            messages = document["messages"]
            if document["header"]["sellerId"] != seller:
                raise ValueError("the header's sellerId is not this seller")
        except (ValueError, KeyError, TypeError) as exc:
            fatal = {"messageId": 0, **issue("100001", f"The feed could not be processed: {exc}")}
            summary = {"errors": 1, "messagesProcessed": 0}
            return {"header": header, "issues": [fatal], "summary": summary}, True
        apply = self._sim.listings_api.apply
        issues = [{"messageId": message.get("messageId", 0), **found} for message in messages
                  for found in apply(str(message.get("sku", "")), message)]
        invalid = len({found["messageId"] for found in issues})
        summary = {"errors": len(issues), "warnings": 0, "messagesProcessed": len(messages),
                   "messagesAccepted": len(messages) - invalid, "messagesInvalid": invalid}
        return {"header": header, "issues": issues, "summary": summary}, False
