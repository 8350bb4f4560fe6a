"""The GraphQL documents the Shopify connector sends besides inventorySetQuantities (shopify_format)
and what it reads from their answers: inventoryActivate, productVariants by SKU, and the cost
extension every answer carries. Pure: no network."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.shopify_format import gid

ACTIVATE = (
    "mutation stockItemAtLocation($item: ID!, $location: ID!, $key: String!) { "
    "inventoryActivate(inventoryItemId: $item, locationId: $location) @idempotent(key: $key) { "
    "inventoryLevel { id } userErrors { field message } } }"
)
VARIANTS = (
    "query variantsBySku($first: Int!, $after: String, $query: String) { "
    "productVariants(first: $first, after: $after, query: $query) { "
    "nodes { sku inventoryItem { id } } pageInfo { hasNextPage endCursor } } }"
)
VARIANTS_PAGE = 250      # productVariants' `first` at most
SKUS_PER_QUERY = 50      # keeps a search query short; Shopify caps query strings (unpublished)
ACTIVATE_COST = 10


def variants_cost(first: int) -> int:
    """Our model of the query's cost: a connection costs 2 plus one per node asked for."""
    return 2 + first


def activate_request(item: int, location: int, key: str) -> dict[str, Any]:
    return {"query": ACTIVATE, "variables": {
        "item": gid("InventoryItem", item), "location": gid("Location", location), "key": key}}


def sku_query(skus: Sequence[str]) -> str:
    """Shopify's search syntax for any of these SKUs; each value quoted, so a SKU with a space,
    a colon or the word OR in it stays one value."""
    quoted = (json.dumps(sku, ensure_ascii=False) for sku in skus)
    return " OR ".join(f"sku:{value}" for value in quoted)


def variants_request(skus: Sequence[str] | None, after: str | None) -> dict[str, Any]:
    """One page of variants: those with any of `skus`, or every variant when `skus` is None."""
    variables: dict[str, Any] = {"first": VARIANTS_PAGE, "after": after,
                                 "query": None if skus is None else sku_query(skus)}
    return {"query": VARIANTS, "variables": variables}


def read_variants(data: Mapping[str, Any]) -> tuple[dict[str, int], str | None]:
    """(our SKU -> inventory item number, the cursor of the next page or None)."""
    found: dict[str, int] = {}
    connection = data.get("productVariants") or {}
    for node in connection.get("nodes") or []:
        item = number_of(((node or {}).get("inventoryItem") or {}).get("id"))
        if node.get("sku") and item is not None:
            found[str(node["sku"])] = item
    page = connection.get("pageInfo") or {}
    return found, (str(page["endCursor"]) if page.get("hasNextPage") and page.get("endCursor") else None)


def number_of(global_id: Any) -> int | None:
    """The number at the end of "gid://shopify/<Kind>/<n>"."""
    tail = str(global_id or "").rpartition("/")[2]
    return int(tail) if tail.isdigit() else None


@dataclass(frozen=True, slots=True)
class Budget:
    """extensions.cost.throttleStatus: the app's GraphQL points at the shop, as the shop counts
    them (other clients of the same app spend from it too), and how fast they come back."""

    maximum: float
    available: float
    restore_rate: float

    def wait_until(self, points: float) -> float:
        """Seconds until `points` are available again (0 when they are now)."""
        return max(0.0, points - self.available) / self.restore_rate if self.restore_rate > 0 else 0.0


def read_budget(answer: Mapping[str, Any]) -> Budget | None:
    status = ((answer.get("extensions") or {}).get("cost") or {}).get("throttleStatus") or {}
    try:
        return Budget(float(status["maximumAvailable"]), float(status["currentlyAvailable"]),
                      float(status["restoreRate"]))
    except (KeyError, TypeError, ValueError):
        return None


def activate_problem(data: Mapping[str, Any]) -> str | None:
    """Why inventoryActivate did not stock the item, or None when it did."""
    result = data.get("inventoryActivate") or {}
    errors = result.get("userErrors") or []
    if errors:
        return "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
    return None if result.get("inventoryLevel") else "inventoryActivate returned no inventory level"
