"""The Shopify simulator's GraphQL Admin endpoint, which knows one mutation, inventorySetQuantities:
checked before it runs, charged by query cost against the GraphQL bucket (THROTTLED, with the cost
extension, when the bucket is short) and applied once per idempotency key, a replay getting the
first answer back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulators.shopify_rest import errors_response
from simulators.shopify_wire import (
    MOST_QUANTITIES,
    SET_QUANTITIES_OPERATION,
    SetQuantities,
    gid,
    set_quantities_cost,
)

if TYPE_CHECKING:
    from simulators.shopify import ShopifySimulator

THROTTLED = {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
REMEMBERED_KEYS = 10_000
_OPERATION = re.compile(r"^\s*(?:mutation|query)\s+(\w+)")


class GraphqlApi:
    def __init__(self, shop: ShopifySimulator):
        self._shop = shop
        self._replies: dict[str, tuple[str, dict[str, Any]]] = {}

    async def handle(self, request: web.Request) -> web.Response:
        shop = self._shop
        refused = shop.unauthorized(request)
        if refused is not None:
            return refused
        try:
            body = await request.json()
            query, variables = str(body["query"]), dict(body.get("variables") or {})
        except (ValueError, KeyError, TypeError):
            return errors_response(400, {"query": "Required parameter missing or invalid"})
        problem = _unanswerable(body.get("operationName") or next(iter(_OPERATION.findall(query)), None),
                                query, variables)
        if problem is not None:
            return problem
        cost = set_quantities_cost(len(variables["input"].get("quantities") or []))
        if shop.take_forced("graphql"):
            return web.json_response({"errors": [THROTTLED], "extensions": self._cost(cost, 0, available=0)})
        if shop.over_limit("graphql", shop.graphql_limit, cost) is not None:
            return web.json_response({"errors": [THROTTLED], "extensions": self._cost(cost, 0)})
        payload = self._set_quantities(variables["key"], variables["input"])
        return web.json_response({"data": {"inventorySetQuantities": payload},
                                  "extensions": self._cost(cost, cost)})

    def _cost(self, requested: int, actual: int, available: float | None = None) -> dict[str, Any]:
        level = self._shop.bucket_level("graphql") if available is None else available
        burst = self._shop.graphql_limit.burst
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual, "throttleStatus": {
            "maximumAvailable": burst, "currentlyAvailable": int(burst if level is None else level),
            "restoreRate": self._shop.graphql_limit.per_second}}}

    def _set_quantities(self, key: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """Applied once per idempotency key; a replay gets the first answer back unchanged."""
        shop, fingerprint = self._shop, json.dumps(data, sort_keys=True)
        if key in self._replies:
            first, answer = self._replies[key]
            if first == fingerprint:
                shop.stats["idempotent_replays"] += 1
                return answer
            return {"inventoryAdjustmentGroup": None, "userErrors": [{
                "field": None, "code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                "message": "The same idempotency key cannot be used with different operation parameters."}]}
        checked = SetQuantities(shop.item_sku, {int(x["id"]) for x in shop.locations}, shop.level).check(data)
        changes, errors = checked.changes, checked.errors
        if errors:
            answer = {"inventoryAdjustmentGroup": None, "userErrors": errors}
        else:
            for item, location, quantity in changes:
                shop.set_level(item, location, quantity)
            shop.stats["quantities_set"] += len(changes)
            answer = {"inventoryAdjustmentGroup": {"id": gid("InventoryAdjustmentGroup", shop.next_id())},
                      "userErrors": []}
        self._replies[key] = (fingerprint, answer)
        if len(self._replies) > REMEMBERED_KEYS:
            del self._replies[next(iter(self._replies))]
        return answer


def _graphql_errors(message: str, code: str | None = None) -> web.Response:
    error: dict[str, Any] = {"message": message}
    if code:
        error["extensions"] = {"code": code}
    return web.json_response({"errors": [error]})


def _unanswerable(name: str | None, query: str, variables: Mapping[str, Any]) -> web.Response | None:
    """The errors GraphQL gives before running anything (the simulator knows one mutation by name)."""
    if name != SET_QUANTITIES_OPERATION or "inventorySetQuantities" not in query:
        return _graphql_errors(f"simulator: only the {SET_QUANTITIES_OPERATION} mutation is understood")
    if not isinstance(variables.get("key"), str) or not variables["key"]:
        return _graphql_errors("Variable $key of type String! was provided invalid value", "INVALID_VARIABLE")
    if not isinstance(variables.get("input"), dict):
        return _graphql_errors("Variable $input of type InventorySetQuantitiesInput! was provided invalid "
                               "value", "INVALID_VARIABLE")
    count = len(variables["input"].get("quantities") or [])
    if count > MOST_QUANTITIES:
        return _graphql_errors(f"The input array size of {count} is greater than the maximum allowed of "
                               f"{MOST_QUANTITIES}.", "MAX_INPUT_SIZE_EXCEEDED")
    return None
