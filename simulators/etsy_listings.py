"""The Etsy simulator's listings: the catalog, in which each listing's products are our variants
(property values Size and Primary color; each offering names the shop's processing profile,
`readiness_state_id`; product and offering ids change on every inventory PUT, as Etsy's do), and its
endpoints: a shop's listings, and a listing's inventory, read and replaced whole.

Also limit/offset paging, which the receipts share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulators.etsy_wire import ON_PROPERTY, Refused, check_inventory_put, money
from simulators.http import json_object

if TYPE_CHECKING:
    from simulators.etsy import EtsySimulator

SIZE, COLOR = 100, 200
PROCESSING_PROFILE = 1_200_000_001   # the shop's one processing profile (option readiness_state_id)


class ListingsApi:
    def __init__(self, sim: EtsySimulator):
        self._sim = sim
        self._value_ids: dict[str, int] = {}

    def add_listing(self, skus: list[str]) -> None:
        listing_id = 1_000_000_000 + self._sim.next_id()
        price = float(self._sim.config.options.get("price", 45.0))
        profile = int(self._sim.config.options.get("readiness_state_id", PROCESSING_PROFILE))
        self._sim.inventories[listing_id] = {
            "products": [{"sku": sku, "property_values": self._properties(sku),
                          "offerings": [{"price": price, "is_enabled": True, "readiness_state_id": profile}]}
                         for sku in skus],
            "price_on_property": [], "quantity_on_property": [SIZE, COLOR], "sku_on_property": [SIZE, COLOR],
            "readiness_state_on_property": []}
        self._renumber(listing_id)

    def _properties(self, sku: str) -> list[dict[str, Any]]:
        size, _, color = sku.rpartition("-")
        pairs = ((SIZE, "Size", size or sku), (COLOR, "Primary color", color if size else "Default"))
        return [{"property_id": pid, "property_name": name, "scale_id": None,
                 "value_ids": [self._value_ids.setdefault(value, 5_000 + len(self._value_ids))],
                 "values": [value]} for pid, name, value in pairs]

    def _renumber(self, listing_id: int) -> None:
        sim = self._sim
        for product in sim.inventories[listing_id]["products"]:
            product["product_id"] = 2_000_000_000 + sim.next_id()
            product["offerings"][0]["offering_id"] = 4_000_000_000 + sim.next_id()
            sim.listing_of[product["sku"]] = listing_id

    def _render_inventory(self, listing_id: int) -> dict[str, Any]:
        inventory, shown = self._sim.inventories[listing_id], self._sim.listings
        return {**inventory, "products": [{
            "product_id": p["product_id"], "sku": p["sku"], "is_deleted": False,
            "property_values": p["property_values"],
            "offerings": [{"offering_id": o["offering_id"], "quantity": shown.get(p["sku"], 0),
                           "is_enabled": o["is_enabled"], "is_deleted": False, "price": money(o["price"]),
                           "readiness_state_id": o["readiness_state_id"]}
                          for o in p["offerings"]]} for p in inventory["products"]]}

    def _replace_inventory(self, listing_id: int, body: dict[str, Any]) -> None:
        """Etsy's PUT replaces everything: a product not sent is deleted."""
        sim, sent = self._sim, {p["sku"] for p in body["products"]}
        for product in sim.inventories[listing_id]["products"]:
            if product["sku"] not in sent:
                sim.listings.pop(product["sku"], None)
                sim.listing_of.pop(product["sku"], None)
                sim.stats["products_deleted"] += 1
        sim.inventories[listing_id] = {
            "products": [{"sku": p["sku"], "property_values": p["property_values"],
                          "offerings": [{"price": o["price"], "is_enabled": o["is_enabled"],
                                         "readiness_state_id": o["readiness_state_id"]}
                                        for o in p["offerings"]]} for p in body["products"]],
            **{name: body.get(name, []) for name in ON_PROPERTY}}
        for product in body["products"]:
            sim.listings[product["sku"]] = product["offerings"][0]["quantity"]
        self._renumber(listing_id)

    async def listings(self, request: web.Request) -> web.Response:
        paging = self._sim.wrong_shop(request) or limit_offset(request)
        if isinstance(paging, web.Response):
            return paging
        limit, offset = paging
        state = request.query.get("state", "active")
        rows = [self._listing_row(listing_id) for listing_id in sorted(self._sim.inventories)]
        rows = [row for row in rows if row["state"] == state]
        return web.json_response({"count": len(rows), "results": rows[offset:offset + limit]})

    def _listing_row(self, listing_id: int) -> dict[str, Any]:
        skus = [p["sku"] for p in self._sim.inventories[listing_id]["products"]]
        return {"listing_id": listing_id, "shop_id": self._sim.shop_id, "user_id": self._sim.user_id,
                "title": f"Listing {listing_id}", "state": "active", "has_variations": True,
                "quantity": sum(self._sim.listings.get(sku, 0) for sku in skus), "skus": skus,
                "url": f"https://www.etsy.com/listing/{listing_id}"}

    async def get_inventory(self, request: web.Request) -> web.Response:
        listing_id = int(request.match_info["listing_id"])
        if listing_id not in self._sim.inventories:
            return self._sim.error_response(404, f"Listing {listing_id} not found")
        return web.json_response(self._render_inventory(listing_id))

    async def put_inventory(self, request: web.Request) -> web.Response:
        listing_id = int(request.match_info["listing_id"])
        if listing_id not in self._sim.inventories:
            return self._sim.error_response(404, f"Listing {listing_id} not found")
        body = await json_object(request)
        try:
            check_inventory_put(body)
        except Refused as refused:
            problem: str | None = str(refused)
        else:
            problem = self._sku_elsewhere(listing_id, body["products"])
        if problem is not None:
            self._sim.stats["inventory_refused"] += 1
            return self._sim.error_response(400, problem)
        self._replace_inventory(listing_id, body)
        self._sim.stats["inventory_puts"] += 1
        return web.json_response(self._render_inventory(listing_id))

    def _sku_elsewhere(self, listing_id: int, products: list[dict[str, Any]]) -> str | None:
        """The simulator keeps its shown quantities by SKU, so each product needs its own."""
        if not all(p.get("sku") for p in products):
            return "products: every product needs a SKU (a simulator limit, not Etsy's)"
        taken = [p["sku"] for p in products if self._sim.listing_of.get(p["sku"], listing_id) != listing_id]
        return f"products: SKU {taken[0]} belongs to another listing" if taken else None


def limit_offset(request: web.Request) -> tuple[int, int] | web.Response:
    try:
        limit, offset = int(request.query.get("limit", 25)), int(request.query.get("offset", 0))
    except ValueError:
        limit = offset = -1
    if not 1 <= limit <= 100 or offset < 0:
        return web.json_response({"error": "limit must be 1..100 and offset at least 0"}, status=400)
    return limit, offset

