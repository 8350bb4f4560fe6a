"""The Square simulator's inventory: PHYSICAL_COUNT changes in batches of up to 100, applied once
per idempotency key (a retried batch gets its first answer back) and ordered by occurred_at (an
older count is recorded and changes nothing), errors per change inside a 200, and counts read back.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulators.http import json_object
from simulators.square_wire import MOST_CHANGES, counted_units, error_entry, read_rfc3339, rfc3339

if TYPE_CHECKING:
    from simulators.square import SquareSimulator


class InventoryApi:
    def __init__(self, sim: SquareSimulator):
        self._sim = sim

    async def batch_create(self, request: web.Request) -> web.Response:
        sim = self._sim
        data = await json_object(request)
        key, changes = data.get("idempotency_key"), data.get("changes")
        if not key:
            return sim.errors(400, [error_entry(400, "idempotency_key is required",
                                                 "MISSING_REQUIRED_PARAMETER", "idempotency_key")])
        if key in sim.answers:  # a retried call: the first answer again, applied once
            sim.stats["idempotent_replays"] += 1
            return web.json_response(sim.answers[key])
        if not isinstance(changes, list) or not 1 <= len(changes) <= MOST_CHANGES:
            return sim.errors(400, [error_entry(400, f"changes: 1 to {MOST_CHANGES} changes",
                                                 "INVALID_ARRAY_LENGTH", "changes")])
        errors: list[dict[str, Any]] = []
        touched: dict[str, None] = {}
        for i, change in enumerate(changes):
            outcome = self._apply(i, change)
            if isinstance(outcome, dict):
                errors.append(outcome)
            else:
                touched[outcome] = None
        answer: dict[str, Any] = {"counts": [self.count(sku) for sku in touched]}
        if errors:
            answer["errors"] = errors
        sim.answers[key] = answer
        return web.json_response(answer)

    def _apply(self, i: int, change: Any) -> dict[str, Any] | str:
        """One PHYSICAL_COUNT: its SKU, or the error. Square keeps the count with the latest
        occurred_at, so an older one is recorded and changes nothing."""
        sim = self._sim
        where = f"changes[{i}].physical_count"
        count = change.get("physical_count") if isinstance(change, dict) else None
        if not isinstance(count, dict) or change.get("type") != "PHYSICAL_COUNT":
            return error_entry(400, "only PHYSICAL_COUNT", "INVALID_ENUM_VALUE", f"changes[{i}].type")
        sku = sim.sku_of.get(str(count.get("catalog_object_id")))
        if sku is None:
            return error_entry(404, "no such catalog object", "NOT_FOUND", f"{where}.catalog_object_id")
        if count.get("location_id") != sim.location_id:
            return error_entry(404, "no such location", "NOT_FOUND", f"{where}.location_id")
        if count.get("state") != "IN_STOCK":
            return error_entry(400, "state must be IN_STOCK", "INVALID_ENUM_VALUE", f"{where}.state")
        quantity, occurred = counted_units(count.get("quantity")), read_rfc3339(count.get("occurred_at"))
        if quantity is None:
            return error_entry(400, "quantity must be a non-negative decimal string", "EXPECTED_STRING",
                               f"{where}.quantity")
        if occurred is None:
            return error_entry(400, "occurred_at must be RFC 3339", "INVALID_TIME", f"{where}.occurred_at")
        if occurred < sim.counted_at.get(sku, -math.inf):
            sim.stats["stale_counts_ignored"] += 1
            return sku
        sim.listings[sku], sim.counted_at[sku] = quantity, occurred
        sim.stats["counts_applied"] += 1
        return sku

    def count(self, sku: str) -> dict[str, Any]:
        sim = self._sim
        return {"catalog_object_id": sim.variation_ids[sku], "catalog_object_type": "ITEM_VARIATION",
                "state": "IN_STOCK", "location_id": sim.location_id, "quantity": str(sim.listings[sku]),
                "calculated_at": rfc3339(sim.clock.time())}

    async def counts(self, request: web.Request) -> web.Response:
        sim = self._sim
        data = await json_object(request)
        ids = data.get("catalog_object_ids") or list(sim.sku_of)
        locations = data.get("location_ids") or [sim.location_id]
        skus = [sim.sku_of[i] for i in ids if i in sim.sku_of] if sim.location_id in locations else []
        return sim.page(data.get("cursor"), "counts", [self.count(sku) for sku in skus], sim.page_size)
