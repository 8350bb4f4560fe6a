"""How a variant's stock and an order are shown, the same way everywhere: REST answers, the
dashboard's pages and its live events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inventory.allocation import order_status
from inventory.commands import LineState, VariantStock
from inventory.desk import OrderOutcome
from inventory.kits import ClientLine, KitStock, fold
from store.catalog import Catalog
from store.queries import StoredOrder, iso


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


def kit_stock_view(catalog: Catalog, sku: str, stock: KitStock) -> dict[str, Any]:
    """A kit's stock in kits, in a variant's shape (inventory.kits: the totals are not the sums of
    the locations' figures, since a kit's components may come from different locations)."""
    view = stock_view(catalog, sku, VariantStock(stock.variant_id, stock.levels, 0))
    return {**view, "available": stock.available, "on_hand": stock.on_hand,
            "reserved": stock.on_hand - stock.available}


def order_view(catalog: Catalog, order: OrderOutcome | StoredOrder, channel: str = "",
               external_id: str = "") -> dict[str, Any]:
    """An order, whether the shards just answered it or the store was read: one shape for both. A
    kit line shows as the client sent it, with its component lines under `components`."""
    skus: Mapping[int, str] = catalog.skus
    if isinstance(order, StoredOrder):
        order_id, channel, external_id, skus = order.id, order.channel, order.external_id, order.skus
    else:
        order_id = order.order_id
    rank = catalog.rank()

    def sku(variant_id: int) -> str:
        return skus.get(variant_id) or catalog.sku(variant_id)

    def allocations(line: LineState | ClientLine) -> list[dict[str, Any]]:
        return [{"location": catalog.location_code(loc), "quantity": line.allocations[loc]}
                for loc in sorted(line.allocations, key=lambda loc: rank.get(loc, 0))]

    def shown(line: LineState | ClientLine) -> dict[str, Any]:
        return {"sku": sku(line.variant_id), "quantity": line.quantity, "reserved": line.reserved,
                "backordered": line.backordered, "state": line.state, "allocations": allocations(line)}

    lines = []
    for line in fold(order.lines, order.kit_lines):
        view = shown(line)
        if line.components:
            view["components"] = [shown(part) for part in line.components]
        lines.append(view)
    return {
        "id": order_id,
        "channel": channel,
        "external_id": external_id,
        "status": order_status(order.lines),
        "placed_at": iso(order.placed_at),
        "lines": lines,
    }
