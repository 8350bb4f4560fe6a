"""The Amazon simulator's Listings Items API: searchListingsItems (paged by pageToken),
getListingsItem (summaries, fulfillmentAvailability) and patchListingsItem, which sets the shown
quantity and nothing else. A feed message is applied the same way as a patch (`apply`).

Also the small shapes the simulator's other APIs share: ASINs, issues and page tokens.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulators import amazon_wire as wire
from simulators.http import opaque_token, read_opaque_token, whole_number

if TYPE_CHECKING:
    from simulators.amazon import AmazonSimulator


class ListingsApi:
    def __init__(self, sim: AmazonSimulator):
        self._sim = sim

    def summary(self, sku: str) -> dict[str, Any]:
        return {"marketplaceId": self._sim.marketplace, "asin": asin(sku), "itemName": sku,
                "productType": wire.PRODUCT_TYPE, "conditionType": "new_new",
                "status": ["BUYABLE"] if self._sim.listings.get(sku, 0) > 0 else ["DISCOVERABLE"]}

    async def search(self, request: web.Request) -> web.Response:
        size = min(20, max(1, whole_number(request.query.get("pageSize"), 10)))
        start = whole_number(unpack_token(request.query.get("pageToken", "")).get("offset"), 0)
        skus = sorted(self._sim.listings)
        items = [{"sku": sku, "summaries": [self.summary(sku)]} for sku in skus[start:start + size]]
        page = {"numberOfResults": len(skus), "pagination": {}, "items": items}
        if start + size < len(skus):
            page["pagination"] = {"nextToken": pack_token({"offset": start + size})}
        return web.json_response(page)

    async def get(self, request: web.Request) -> web.Response:
        sim, sku = self._sim, request.match_info["sku"]
        if sku not in sim.listings:
            return sim.error_response(404, f"SKU '{sku}' not found in marketplace {sim.marketplace}")
        included = request.query.get("includedData", "summaries").split(",")
        item: dict[str, Any] = {"sku": sku}
        if "summaries" in included:
            item["summaries"] = [self.summary(sku)]
        if "fulfillmentAvailability" in included:
            availability = {"fulfillmentChannelCode": "DEFAULT", "quantity": sim.listings[sku]}
            item["fulfillmentAvailability"] = [availability]
        return web.json_response(item)

    async def patch(self, request: web.Request) -> web.Response:
        sku = request.match_info["sku"]
        try:
            body = await request.json()
        except ValueError:
            return self._sim.error_response(400, "Request body is not valid JSON")
        issues = self.apply(sku, body)
        return web.json_response({"sku": sku, "status": "INVALID" if issues else "ACCEPTED",
                                  "submissionId": uuid.uuid4().hex, "issues": issues})

    def apply(self, sku: str, message: Any) -> list[dict[str, Any]]:
        """Set the shown quantity from one patch or feed message; the issues when it cannot."""
        sim = self._sim
        if sku not in sim.listings:
            return [issue("4000001", f"SKU '{sku}' does not exist for this seller in {sim.marketplace}.")]
        quantity = wire.requested_quantity(message)
        if quantity is None or quantity < 0 or not isinstance(message.get("productType"), str):
            return [issue("90000900", "The patch must replace /attributes/fulfillment_availability "
                                      "with a non-negative DEFAULT quantity.")]
        sim.listings[sku] = quantity
        sim.stats["quantity_updates"] += 1
        return []


def asin(sku: str) -> str:
    return f"B0{hashlib.sha1(sku.encode()).hexdigest()[:8].upper()}"


def issue(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "severity": "ERROR"}


def pack_token(data: dict[str, Any]) -> str:
    return opaque_token(data)


def unpack_token(token: str) -> dict[str, Any]:
    """What `pack_token` packed; {} for a token Amazon never gave out."""
    try:
        data = read_opaque_token(token)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
