"""The Amazon connector's bulk push: every quantity in one JSON_LISTINGS_FEED. The document goes up
to the presigned URL createFeedDocument hands out, createFeed queues it, getFeed is polled until the
feed is DONE, and the processing report says which SKUs failed.

createFeed refills one token every two minutes, so the connector takes this path only when
`feed_has_room` (and the push is big enough); otherwise it patches listing by listing.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from yarl import URL

from connectors import amazon_format as fmt
from connectors.amazon_api import SellingPartnerApi, decoded
from connectors.base import Listing, PartnerError, PartnerRejected, PushResult
from connectors.limits import Limiter


def feed_has_room(limiter: Limiter) -> bool:
    # createFeed refills one token every two minutes: spend one only when it is there now.
    return not (limiter.would_wait("createFeed") or limiter.would_wait("getFeedDocument"))


@dataclass(frozen=True, slots=True)
class FeedPush:
    api: SellingPartnerApi
    seller: str            # the merchant token, URL-quoted as the listings paths carry it
    marketplace_id: str
    product_type: str
    poll_seconds: float    # between getFeed calls
    timeout: float         # before a feed that has not finished counts as failed

    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        api = self.api
        document = fmt.feed_document(self.seller, self.product_type, listings)
        created = await api.call("createFeedDocument", "POST", api.url(f"{fmt.FEEDS_PATH}/documents"),
                                 body={"contentType": fmt.FEED_CONTENT_TYPE})
        # A presigned URL: its signature covers the exact encoding, so it goes out as given.
        await api.call("uploadFeedDocument", "PUT", URL(created["url"], encoded=True), auth=False,
                       data=json.dumps(document).encode(), content_type=fmt.FEED_CONTENT_TYPE)
        feed = await api.call("createFeed", "POST", api.url(f"{fmt.FEEDS_PATH}/feeds"),
                              body={"feedType": "JSON_LISTINGS_FEED", "marketplaceIds": [self.marketplace_id],
                                    "inputFeedDocumentId": created["feedDocumentId"]})
        done = await self._finished(str(feed["feedId"]))
        report = await self._report(str(done["resultFeedDocumentId"]))
        failed = fmt.feed_outcomes(listings, report)
        return [PushResult(listing.sku, listing.sku not in failed, failed.get(listing.sku, ""))
                for listing in listings]

    async def _finished(self, feed_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            feed = await self.api.call("getFeed", "GET", self.api.url(f"{fmt.FEEDS_PATH}/feeds/{feed_id}"))
            status = feed.get("processingStatus")
            if status == "DONE":
                return dict(feed)
            if status == "FATAL":
                raise PartnerRejected(f"JSON_LISTINGS_FEED {feed_id} ended FATAL")
            if status == "CANCELLED" or time.monotonic() > deadline:
                raise PartnerError(f"JSON_LISTINGS_FEED {feed_id} is {status}")
            await asyncio.sleep(self.poll_seconds)

    async def _report(self, document_id: str) -> dict[str, Any]:
        api = self.api
        where = await api.call("getFeedDocument", "GET", api.url(f"{fmt.FEEDS_PATH}/documents/{document_id}"))
        async with api.limiter.sending("downloadFeedDocument"):
            status, raw = await api.send("GET", URL(where["url"], encoded=True))
        if where.get("compressionAlgorithm") == "GZIP" and isinstance(raw, bytes):
            raw = decoded(gzip.decompress(raw))
        report = api.checked("downloadFeedDocument", status, raw)
        if not isinstance(report, dict):
            raise PartnerError(f"feed report {document_id} is not JSON")
        return report
