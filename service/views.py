"""How a variant's stock is shown, the same way everywhere (REST answers, dashboard, live events)."""

from __future__ import annotations

from typing import Any

from inventory.commands import VariantStock
from store.catalog import Catalog


def stock_view(catalog: Catalog, sku: str, stock: VariantStock) -> dict[str, Any]:
    """A variant's stock, whether a shard just answered it or the store was read."""
    rank = catalog.rank()
    levels = [
        {"location": catalog.location_code(loc), "on_hand": on_hand, "reserved": reserved,
         "available": on_hand - reserved}
        for loc, (on_hand, reserved) in sorted(stock.levels.items(), key=lambda kv: rank.get(kv[0], 0))
    ]
    return {
        "sku": sku,
        "available": sum(level["available"] for level in levels),
        "on_hand": sum(level["on_hand"] for level in levels),
        "reserved": sum(level["reserved"] for level in levels),
        "backordered": stock.backordered,
        "locations": levels,
    }
