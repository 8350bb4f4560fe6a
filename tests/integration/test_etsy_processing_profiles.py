"""Processing profiles: Etsy's inventory names each offering's `readiness_state_id` and which
properties vary it (`readiness_state_on_property`), and requires both back on the PUT."""

from __future__ import annotations

from connectors.base import Listing
from tests.integration.test_etsy_connector import etsy

PROFILE = 1_200_000_777


async def test_the_inventory_etsy_returns_names_each_offerings_processing_profile() -> None:
    async with etsy(options={"readiness_state_id": PROFILE}) as shop:
        listing_id = shop.sim.listing_of["SHEET-Q-WHT"]
        status, inventory, _ = await shop.api_call("GET", f"/v3/application/listings/{listing_id}/inventory")
        assert status == 200 and inventory["readiness_state_on_property"] == []
        assert {o["readiness_state_id"] for p in inventory["products"] for o in p["offerings"]} == {PROFILE}


async def test_a_put_without_processing_profiles_is_refused_the_etsy_way() -> None:
    async with etsy() as shop:
        listing_id = shop.sim.listing_of["SHEET-Q-WHT"]
        path = f"/v3/application/listings/{listing_id}/inventory"
        _, inventory, _ = await shop.api_call("GET", path)
        body = {"products": [{"sku": p["sku"], "property_values": p["property_values"],
                              "offerings": [{"price": 45.0, "quantity": 3, "is_enabled": True}]}
                             for p in inventory["products"]],
                "price_on_property": [], "quantity_on_property": [], "sku_on_property": [100, 200],
                "readiness_state_on_property": []}
        status, answer, _ = await shop.api_call("PUT", path, json=body)
        assert (status, answer) == (400, {"error": "products[0].offerings[0].readiness_state_id: is required "
                                                   "(the offering's processing profile)"})
        for product in body["products"]:
            product["offerings"][0]["readiness_state_id"] = inventory["products"][0]["offerings"][0][
                "readiness_state_id"]
        del body["readiness_state_on_property"]
        status, answer, _ = await shop.api_call("PUT", path, json=body)
        assert status == 400 and answer["error"].startswith("readiness_state_on_property: is required")
        assert shop.sim.stats["inventory_puts"] == 0


async def test_a_push_sends_every_processing_profile_back_as_it_came() -> None:
    async with etsy(options={"readiness_state_id": PROFILE}) as shop:
        assert all(r.ok for r in await shop.connector.push([Listing("SHEET-Q-WHT", 3)]))
        listing = shop.sim.inventories[shop.sim.listing_of["SHEET-Q-WHT"]]
        assert {o["readiness_state_id"] for p in listing["products"] for o in p["offerings"]} == {PROFILE}
        assert shop.sim.listings["SHEET-Q-WHT"] == 3 and shop.sim.stats["inventory_refused"] == 0
