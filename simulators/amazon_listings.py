"""The Amazon simulator's Listings Items API: searchListingsItems (paged by pageToken),
getListingsItem (summaries, attributes, fulfillmentAvailability) and patchListingsItem. Each
listing keeps its whole DEFAULT fulfillment_availability entry: the quantity (the simulator's shown
quantity) and the seller's handling time (`lead_time_to_ship_max_days`) and `restock_date`. A
`replace` (or `add`) sets the entry to exactly what it names, so a quantity alone wipes the other two;
a `merge` changes only the fields it names; a `delete` empties it. A feed message is applied the
same way as a patch (`apply`).

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
    def __init__(self, sim: AmazonSimulator, lead_time_days: int | None):
        self._sim = sim
        # The rest of each listing's DEFAULT fulfillment_availability entry, as the seller set it
        # in Seller Central (the demo's seller ships within `lead_time_days`).
        first = {} if lead_time_days is None else {"lead_time_to_ship_max_days": lead_time_days}
        self.availability: dict[str, dict[str, Any]] = {sku: dict(first) for sku in sim.listings}

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
        included = request.query.get("includedData", "summaries").split(",")
        unknown = sorted(set(included) - wire.LISTING_DATASETS)
        if unknown:
            return sim.error_response(400, f"Invalid includedData {','.join(unknown)!r}")
        if sku not in sim.listings:
            return sim.error_response(404, f"SKU '{sku}' not found in marketplace {sim.marketplace}")
        item: dict[str, Any] = {"sku": sku}
        if "summaries" in included:
            item["summaries"] = [self.summary(sku)]
        if "attributes" in included:
            entry = {"fulfillment_channel_code": "DEFAULT", "quantity": sim.listings[sku],
                     **self.availability.get(sku, {})}
            item["attributes"] = {"fulfillment_availability": [entry]}
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
        """Apply one patch request or feed message to the listing; the issues when it cannot."""
        sim = self._sim
        if sku not in sim.listings:
            return [issue("4000001", f"SKU '{sku}' does not exist for this seller in {sim.marketplace}.")]
        found = wire.availability_patch(message)
        refused = _refusal(message, found)
        if refused or found is None:
            return [issue("90000900", refused or "The patch names no DEFAULT fulfillment_availability.")]
        op, given = found
        fields = {k: v for k, v in given.items() if k not in ("fulfillment_channel_code", "quantity")}
        if op == "merge":
            self.availability[sku] = {**self.availability.get(sku, {}), **fields}
            quantity = int(given.get("quantity", sim.listings[sku]))
        elif op == "delete":
            self.availability[sku], quantity = {}, 0
        else:   # add and replace set the whole entry
            self.availability[sku], quantity = fields, int(given.get("quantity", 0))
        sim.listings[sku] = quantity
        sim.stats["quantity_updates"] += 1
        sim.stats[f"availability_{op}"] += 1
        return []


def _refusal(message: Any, found: tuple[str, dict[str, Any]] | None) -> str:
    """Why Amazon refuses the patch request (unknown op or field, a bad quantity); "" when it does not."""
    if not isinstance(message, dict) or not isinstance(message.get("productType"), str):
        return "productType is required."
    for patch in message.get("patches") or []:
        if not isinstance(patch, dict) or patch.get("op") not in wire.PATCH_OPS:
            return f"Unsupported patch operation {patch!r}."
    if found is None:
        return ""
    op, entry = found
    unknown = sorted(set(entry) - wire.AVAILABILITY_FIELDS)
    if unknown:
        return f"Unknown fulfillment_availability fields {unknown}."
    quantity = entry.get("quantity")
    if op in ("add", "replace") and quantity is None:
        return "A replace of fulfillment_availability must name the quantity."
    if quantity is not None and (not isinstance(quantity, int) or quantity < 0):
        return f"quantity must be a non-negative integer, not {quantity!r}."
    return ""


def asin(sku: str) -> str:
    return f"B0{hashlib.sha1(sku.encode(), usedforsecurity=False).hexdigest()[:8].upper()}"


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
