"""The Amazon simulator's Orders API v2026-01-01 (orders_2026-01-01.json in Amazon's published
models): searchOrders (exactly one of createdAfter and lastUpdatedAfter; pages of at most 100 with a
paginationToken that is good only with the same filters, for 24 hours) and getOrder. Order items are
always in the answer; the datasets of `includedData` (FULFILLMENT carries the order's status) only
when asked for. Unknown parameters and values are refused with 400 InvalidInput, as Amazon does.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulators import amazon_wire as wire
from simulators.amazon_listings import asin, pack_token, unpack_token
from simulators.base import SimOrder

if TYPE_CHECKING:
    from simulators.amazon import AmazonSimulator

_SEARCH_PARAMETERS = frozenset({"createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore",
                                "fulfillmentStatuses", "marketplaceIds", "fulfilledBy", "maxResultsPerPage",
                                "paginationToken", "includedData"})
_PAGING_FREE = frozenset({"maxResultsPerPage", "includedData", "paginationToken"})   # may change per page
_DATASETS = frozenset({"BUYER", "RECIPIENT", "PROCEEDS", "EXPENSE", "PROMOTION", "CANCELLATION",
                       "FULFILLMENT", "PACKAGES", "TAX", "PAYMENT", "FULFILLMENT_ORDERS"})
_STATUSES = {"Pending": "PENDING", "Unshipped": "UNSHIPPED", "Shipped": "SHIPPED", "Canceled": "CANCELLED"}
_TOKEN_LIFETIME = 24 * 3600.0


class Refused(ValueError):
    """A request Amazon answers with 400 InvalidInput."""


class OrdersApi:
    def __init__(self, sim: AmazonSimulator):
        self._sim = sim

    async def search(self, request: web.Request) -> web.Response:
        try:
            field, after, size, key, datasets = self._search_query(request)
        except Refused as exc:
            return self._sim.error_response(400, str(exc))
        rows = sorted(((math.floor(getattr(o, field)), o.order_id), o) for o in self._sim.orders.values()
                      if math.floor(getattr(o, field)) >= after)
        rows = [row for row in rows if key is None or row[0] > key]
        answer: dict[str, Any] = {"orders": [self.order(o, datasets) for _, o in rows[:size]]}
        if len(rows) > size:
            answer["pagination"] = {"nextToken": pack_token({
                "filters": _filters_digest(request), "key": list(rows[size - 1][0]),
                "issued": self._sim.clock.time()})}
        answer["lastUpdatedBefore" if field == "updated_at" else "createdBefore"] = wire.timestamp(
            self._sim.clock.time())
        return web.json_response(answer)

    async def get(self, request: web.Request) -> web.Response:
        order = self._sim.orders.get(request.match_info["orderId"])
        if order is None:
            return self._sim.error_response(404, f"Order {request.match_info['orderId']} not found")
        try:
            datasets = _datasets(request)
        except Refused as exc:
            return self._sim.error_response(400, str(exc))
        return web.json_response({"order": self.order(order, datasets)})

    def _search_query(self, request: web.Request) -> tuple[str, float, int, tuple[int, str] | None, set[str]]:
        """(order field, lower bound, page size, keyset position, datasets) of a searchOrders call."""
        query = request.query
        unknown = sorted(set(query) - _SEARCH_PARAMETERS)
        if unknown:
            raise Refused(f"Unknown parameters {unknown}")
        given = [name for name in ("createdAfter", "lastUpdatedAfter") if name in query]
        if len(given) != 1:
            raise Refused("Exactly one of createdAfter and lastUpdatedAfter is required")
        try:
            after = wire.read_timestamp(query[given[0]])
            size = int(query.get("maxResultsPerPage", "100"))
        except ValueError as exc:
            raise Refused(f"Invalid {given[0]} or maxResultsPerPage: {exc}") from exc
        if not 1 <= size <= 100:
            raise Refused("maxResultsPerPage must be between 1 and 100")
        key = self._position(request) if "paginationToken" in query else None
        field = "updated_at" if given[0] == "lastUpdatedAfter" else "created_at"
        return field, after, size, key, _datasets(request)

    def _position(self, request: web.Request) -> tuple[int, str]:
        token = unpack_token(request.query["paginationToken"])
        try:
            key = (int(token["key"][0]), str(token["key"][1]))
            fresh = self._sim.clock.time() - float(token["issued"]) < _TOKEN_LIFETIME
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise Refused("Invalid paginationToken") from exc
        if not fresh:
            raise Refused("The paginationToken has expired")
        if token.get("filters") != _filters_digest(request):
            raise Refused("A paginationToken must come with the same parameters as the first page")
        return key

    def order(self, order: SimOrder, datasets: set[str]) -> dict[str, Any]:
        shipped = order.quantity if order.status == "Shipped" else 0
        item: dict[str, Any] = {
            "orderItemId": wire.order_item_id(order.order_id, 1), "quantityOrdered": order.quantity,
            "product": {"asin": asin(order.sku), "title": order.sku, "sellerSku": order.sku}}
        found: dict[str, Any] = {
            "orderId": order.order_id, "createdTime": wire.timestamp(order.created_at),
            "lastUpdatedTime": wire.timestamp(order.updated_at),
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": self._sim.marketplace,
                             "marketplaceName": "Amazon.com"},
            "orderItems": [item]}
        if "FULFILLMENT" in datasets:
            found["fulfillment"] = {"fulfillmentStatus": _STATUSES.get(order.status, "PENDING"),
                                    "fulfilledBy": "MERCHANT", "fulfillmentServiceLevel": "STANDARD"}
            unfulfilled = 0 if order.status == "Canceled" else order.quantity - shipped
            item["fulfillment"] = {"quantityFulfilled": shipped, "quantityUnfulfilled": unfulfilled}
        return found


def _datasets(request: web.Request) -> set[str]:
    wanted = {name for name in request.query.get("includedData", "").split(",") if name}
    unknown = sorted(wanted - _DATASETS)
    if unknown:
        raise Refused(f"Invalid includedData {unknown}")
    return wanted


def _filters_digest(request: web.Request) -> str:
    filters = sorted((k, v) for k, v in request.query.items() if k not in _PAGING_FREE)
    return hashlib.sha256(repr(filters).encode()).hexdigest()[:16]
