"""What the simulator's GraphQL fields do once a request is valid for its API version:
inventorySetQuantities (Shopify's checks in shopify_wire, applied whole or not at all),
inventoryActivate (an item gets a level at a location), productVariants (found by the `sku:`
search syntax, paged by an opaque cursor). A mutation carrying `@idempotent(key:)` is applied once
per key: a replay gets the first answer back, the same key with other arguments is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLResolveInfo
from graphql.utilities import value_from_ast_untyped

from simulators.http import opaque_token, read_opaque_token
from simulators.shopify_schema import COMPARE_GONE_SINCE, at_least
from simulators.shopify_wire import SetQuantities, gid, gid_of

if TYPE_CHECKING:
    from simulators.shopify import ShopifySimulator

REMEMBERED_KEYS = 10_000
_TERM = re.compile(r'(\w+):(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))')   # name:value or name:"quoted value"
MOST_FIRST = 250
Resolver = Callable[..., Any]


def idempotency_key(info: GraphQLResolveInfo) -> str | None:
    for directive in info.field_nodes[0].directives or ():
        if directive.name.value == "idempotent":
            for argument in directive.arguments:
                if argument.name.value == "key":
                    value = value_from_ast_untyped(argument.value, info.variable_values)
                    return str(value) if value is not None else None
    return None


class Mutations:
    """The root values graphql-core resolves the top-level fields from, for one API version."""

    def __init__(self, shop: ShopifySimulator):
        self._shop = shop
        self._replies: dict[str, tuple[str, dict[str, Any]]] = {}

    def keys(self) -> list[str]:
        return list(self._replies)

    def root(self, version: str) -> dict[str, Resolver]:
        return {
            "inventorySetQuantities": lambda info, **args: self._once(
                info, version, args, lambda: self._set_quantities(version, args["input"])),
            "inventoryActivate": lambda info, **args: self._once(
                info, version, args, lambda: self._activate(args)),
            "productVariants": lambda _info, **args: self._variants(args),
        }

    def _once(self, info: GraphQLResolveInfo, version: str, args: Mapping[str, Any],
              run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Applied once per idempotency key; a replay gets the first answer back unchanged."""
        key, shop = idempotency_key(info), self._shop
        if key is None:
            if at_least(version, COMPARE_GONE_SINCE):
                # (unverified wording) from 2026-04 the inventory mutations require the key.
                raise GraphQLError(f"The @idempotent directive with a key is required for {info.field_name}.")
            return run()
        fingerprint = json.dumps([info.field_name, args], sort_keys=True, default=str)
        if key in self._replies:
            first, answer = self._replies[key]
            if first == fingerprint:
                shop.stats["idempotent_replays"] += 1
                return answer
            return _refused("IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                            "The same idempotency key cannot be used with different operation parameters.")
        if shop.take_forced("concurrent"):
            return _refused("IDEMPOTENCY_CONCURRENT_REQUEST", "This request is currently in progress, please "
                                                               "try again.")
        answer = run()
        self._replies[key] = (fingerprint, answer)
        if len(self._replies) > REMEMBERED_KEYS:
            del self._replies[next(iter(self._replies))]
        return answer

    def _set_quantities(self, version: str, data: Mapping[str, Any]) -> dict[str, Any]:
        shop = self._shop
        checked = SetQuantities(shop.item_sku, {int(x["id"]) for x in shop.locations}, shop.level,
                                version, shop.stocked_at, shop.mutable).check(data)
        if checked.errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": checked.errors}
        changes = []
        for item, location, quantity in checked.changes:
            before = shop.level(item, location)
            shop.set_level(item, location, quantity)
            changes.append({"name": data["name"], "delta": quantity - before,
                            "quantityAfterChange": quantity})
        shop.stats["quantities_set"] += len(changes)
        group = {"id": gid("InventoryAdjustmentGroup", shop.next_id()), "reason": data["reason"],
                 "createdAt": datetime.fromtimestamp(shop.clock.time(), UTC).isoformat()[:19] + "Z",
                 "referenceDocumentUri": data.get("referenceDocumentUri"), "changes": changes}
        return {"inventoryAdjustmentGroup": group, "userErrors": []}

    def _activate(self, args: Mapping[str, Any]) -> dict[str, Any]:
        shop = self._shop
        item, place = gid_of("InventoryItem", args["inventoryItemId"]), gid_of("Location", args["locationId"])
        if item is None or item not in shop.item_sku:
            return {"inventoryLevel": None, "userErrors": [
                {"field": ["inventoryItemId"], "message": "Inventory item does not exist"}]}
        if place is None or place not in {int(x["id"]) for x in shop.locations}:
            return {"inventoryLevel": None, "userErrors": [
                {"field": ["locationId"], "message": "Location does not exist"}]}
        if not shop.stocked_at(item, place):
            shop.stock_at(item, place)
            shop.stats["activated"] += 1
            if args.get("available") is not None:
                shop.set_level(item, place, int(args["available"]))
        level = {
            "id": f"gid://shopify/InventoryLevel/{place}?inventory_item_id={item}",
            "item": {"id": gid("InventoryItem", item), "sku": shop.item_sku[item], "tracked": True},
            "location": {"id": gid("Location", place), "name": shop.location_name(place)},
            "quantities": lambda _info, names: [
                {"name": name, "quantity": shop.level(item, place)} for name in names],
        }
        return {"inventoryLevel": level, "userErrors": []}

    def _variants(self, args: Mapping[str, Any]) -> dict[str, Any]:
        first = args.get("first")
        if first is None:
            raise GraphQLError("you must provide one of first or last")
        if not 0 < first <= MOST_FIRST:
            raise GraphQLError(f"The first argument must be between 1 and {MOST_FIRST}.")
        after = 0
        if args.get("after") is not None:
            state = _read_cursor(str(args["after"]))
            if state is None:
                raise GraphQLError(f"Invalid cursor for current pagination sort: {args['after']}")
            after = state
        wanted = sku_terms(args.get("query"))
        rows = [v for v in self._shop.variants.values()
                if v["id"] > after and (wanted is None or str(v["sku"]) in wanted)]
        page = rows[:first]
        nodes = [self._node(variant) for variant in page]
        cursors = [opaque_token({"last_id": variant["id"]}) for variant in page]
        edges = [{"cursor": c, "node": n} for c, n in zip(cursors, nodes, strict=True)]
        return {"nodes": nodes, "edges": edges,
                "pageInfo": {"hasNextPage": len(rows) > first, "hasPreviousPage": after > 0,
                             "startCursor": cursors[0] if cursors else None,
                             "endCursor": cursors[-1] if cursors else None}}

    def _node(self, variant: Mapping[str, Any]) -> dict[str, Any]:
        item = variant["inventory_item_id"]
        return {"id": gid("ProductVariant", variant["id"]), "sku": variant["sku"], "title": variant["title"],
                "inventoryItem": {"id": gid("InventoryItem", item), "sku": variant["sku"], "tracked": True},
                "product": {"id": gid("Product", variant["product_id"]), "title": variant["title"]}}


def sku_terms(query: Any) -> set[str] | None:
    """The SKUs a search query names: `sku:A OR sku:"B C"`; None when there is no query. A term
    this simulator does not understand matches nothing (Shopify's search has many more)."""
    if query is None or not str(query).strip():
        return None
    found: set[str] = set()
    for name, quoted, bare in _TERM.findall(str(query)):
        if name == "sku":
            found.add(re.sub(r"\\(.)", r"\1", quoted) if quoted else bare)
    return found


def _refused(code: str, message: str) -> dict[str, Any]:
    return {"inventoryAdjustmentGroup": None,
            "userErrors": [{"field": None, "code": code, "message": message}]}


def _read_cursor(token: str) -> int | None:
    try:
        state = read_opaque_token(token)
    except ValueError:
        return None
    last = state.get("last_id") if isinstance(state, dict) else None
    return last if isinstance(last, int) else None
