"""The Shopify simulator answers per API version and the connector speaks the version that has the
fields it sends; items not stocked at a location, items an app may not change, retried pushes and
their idempotency keys, variants found by SKU with GraphQL, and the GraphQL budget every answer
reports. Over real HTTP on loopback."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from connectors.base import Listing, PartnerError, PartnerSpec
from connectors.shopify import ShopifyConnector
from connectors.shopify_format import gid
from simulators.shopify import ShopifySimulator
from tests.integration.shopify_shop import SKUS, connected

SET = ("mutation anyNameAtAll($input: InventorySetQuantitiesInput!) { "
       "inventorySetQuantities(input: $input) { userErrors { field code message } } }")
SET_KEYED = ("mutation whatever($input: InventorySetQuantitiesInput!, $key: String!) { "
             "inventorySetQuantities(input: $input) @idempotent(key: $key) { userErrors { field code message } } }")


async def post(sim: ShopifySimulator, session: aiohttp.ClientSession, version: str, query: str,
               variables: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"X-Shopify-Access-Token": sim.config.credentials["access_token"]}
    async with session.post(f"{sim.base_url}/admin/api/{version}/graphql.json",
                            json={"query": query, "variables": variables}, headers=headers) as answer:
        return answer.status, await answer.json()


def set_input(sim: ShopifySimulator, sku: str, value: int, **checks: Any) -> dict[str, Any]:
    quantity = {"inventoryItemId": gid("InventoryItem", sim.variants[sku]["inventory_item_id"]),
                "locationId": gid("Location", sim.location_id), "quantity": value}
    top = {key: checks.pop(key) for key in list(checks) if key == "ignoreCompareQuantity"}
    return {"name": "available", "reason": "correction", "quantities": [{**quantity, **checks}], **top}


def codes(answer: dict[str, Any]) -> list[str | None]:
    return [e["code"] for e in answer["data"]["inventorySetQuantities"]["userErrors"]]


# --- versions ------------------------------------------------------------------------------------


def test_the_connectors_default_version_is_the_first_without_compare_quantity():
    spec = PartnerSpec(id="s", kind="shopify", base_url="https://x.myshopify.com", credentials={})
    assert ShopifyConnector(spec).api == "https://x.myshopify.com/admin/api/2026-04"


async def test_before_2026_01_change_from_quantity_and_idempotent_are_unknown_and_compare_is_required(
        shop, session):
    _, answer = await post(shop, session, "2025-10", SET,
                           {"input": set_input(shop, "SHEET-000", 3, changeFromQuantity=None)})
    assert "changeFromQuantity" in answer["errors"][0]["message"] and "data" not in answer
    _, answer = await post(shop, session, "2025-10", SET_KEYED,
                           {"input": set_input(shop, "SHEET-000", 3), "key": "k-1"})
    assert "Unknown directive '@idempotent'" in answer["errors"][0]["message"]
    _, answer = await post(shop, session, "2025-10", SET, {"input": set_input(shop, "SHEET-000", 3)})
    assert codes(answer) == ["COMPARE_QUANTITY_REQUIRED"]
    _, answer = await post(shop, session, "2025-10", SET, {"input": set_input(shop, "SHEET-000", 3,
                                                                              compareQuantity=5)})
    assert codes(answer) == ["COMPARE_QUANTITY_STALE"]
    _, answer = await post(shop, session, "2025-10", SET,
                           {"input": set_input(shop, "SHEET-000", 3, ignoreCompareQuantity=True)})
    assert codes(answer) == [] and shop.listings["SHEET-000"] == 3


async def test_2026_01_takes_both_checks_and_2026_04_only_change_from_quantity(shop, session):
    _, answer = await post(shop, session, "2026-01", SET, {"input": set_input(shop, "SHEET-001", 4,
                                                                              changeFromQuantity=None)})
    assert codes(answer) == [] and shop.listings["SHEET-001"] == 4
    _, answer = await post(shop, session, "2026-01", SET, {"input": set_input(shop, "SHEET-001", 5,
                                                                              compareQuantity=4)})
    assert codes(answer) == [] and shop.listings["SHEET-001"] == 5
    _, answer = await post(shop, session, "2026-04", SET_KEYED, {
        "input": set_input(shop, "SHEET-001", 6, compareQuantity=5), "key": "k-2"})
    assert "compareQuantity" in answer["errors"][0]["message"]
    _, answer = await post(shop, session, "2026-04", SET_KEYED, {"input": set_input(shop, "SHEET-001", 6),
                                                                 "key": "k-3"})
    assert [e["field"][-1] for e in answer["data"]["inventorySetQuantities"]["userErrors"]] == [
        "changeFromQuantity"]
    _, answer = await post(shop, session, "2026-04", SET, {"input": set_input(shop, "SHEET-001", 6,
                                                                              changeFromQuantity=5)})
    assert "@idempotent" in answer["errors"][0]["message"] and shop.listings["SHEET-001"] == 5


async def test_an_unreleased_version_is_not_found_and_a_retired_one_falls_forward(shop, session):
    status, answer = await post(shop, session, "2031-07", SET, {})
    assert (status, answer) == (404, {"errors": "Not Found"})
    headers = {"X-Shopify-Access-Token": shop.config.credentials["access_token"]}
    async with session.get(f"{shop.base_url}/admin/api/2023-04/locations.json", headers=headers) as got:
        assert got.status == 200 and got.headers["X-Shopify-API-Version"] == "2025-01"
    async with session.get(f"{shop.base_url}/admin/api/latest/locations.json", headers=headers) as got:
        assert got.status == 404


# --- levels --------------------------------------------------------------------------------------


async def test_an_item_not_stocked_at_the_location_is_activated_there_and_then_set(shop, session):
    popup = int(shop.locations[1]["id"])
    connector = await connected(shop, session, options={"location_id": str(popup)})
    results = await connector.push([Listing("SHEET-002", 4), Listing("SHEET-003", 6)])
    assert [r.ok for r in results] == [True, True]
    item = shop.variants["SHEET-002"]["inventory_item_id"]
    assert shop.stocked_at(item, popup) and shop.level(item, popup) == 4
    assert shop.stats["activated"] == 2
    assert (await connector.push([Listing("SHEET-002", 1)]))[0].ok   # stocked now: no activation
    assert shop.stats["activated"] == 2 and shop.level(item, popup) == 1


async def test_an_item_an_app_may_not_change_fails_alone(shop, session):
    connector = await connected(shop, session)
    shop.immutable.add(shop.variants["SHEET-004"]["inventory_item_id"])
    results = await connector.push([Listing("SHEET-004", 2), Listing("SHEET-005", 3)])
    assert [r.ok for r in results] == [False, True]
    assert results[0].error.startswith("NON_MUTABLE_INVENTORY_ITEM")
    assert shop.listings["SHEET-005"] == 3


async def test_a_key_whose_first_attempt_still_runs_is_sent_again_unchanged(shop, session):
    connector = await connected(shop, session)
    shop.throttle(concurrent=1)
    assert (await connector.push([Listing("SHEET-006", 8)]))[0].ok
    assert shop.stats["forced_throttles"] == 1 and shop.listings["SHEET-006"] == 8
    assert len(shop.graphql_api.keys()) == 1   # both attempts carried one key


async def test_a_push_whose_answer_was_lost_is_retried_with_the_same_key_and_applied_once(shop, session):
    connector = await connected(shop, session)
    shop.faults.error_rate = 1.0   # Shopify's answer never arrives
    with pytest.raises(PartnerError):
        await connector.push([Listing("SHEET-007", 9)])
    shop.faults.error_rate = 0.0
    assert (await connector.push([Listing("SHEET-007", 9)]))[0].ok
    shop.listings["SHEET-007"] = 2   # a sale at Shopify
    first_keys = shop.graphql_api.keys()
    assert (await connector.push([Listing("SHEET-007", 9)]))[0].ok   # a new push: a new key
    assert shop.listings["SHEET-007"] == 9 and len(shop.graphql_api.keys()) == len(first_keys) + 1


# --- variants and the budget ---------------------------------------------------------------------


async def test_variants_are_found_with_graphql_never_with_rest_products(shop, session):
    connector = await connected(shop, session)
    assert connector.items == {sku: shop.variants[sku]["inventory_item_id"] for sku in SKUS}
    assert shop.stats["calls:graphql"] == 1   # one page of productVariants
    assert shop.stats["rest_products"] == 0


async def test_a_variant_added_after_start_is_found_by_its_sku_when_first_pushed(shop, session):
    connector = await connected(shop, session)
    shop.add_variant('SHEET "KING" OR TWIN')
    results = await connector.push([Listing('SHEET "KING" OR TWIN', 5), Listing("NOWHERE", 1)])
    assert [r.ok for r in results] == [True, False]
    assert shop.listings['SHEET "KING" OR TWIN'] == 5


async def test_a_budget_spent_by_another_client_of_the_app_is_waited_for_before_a_throttle(shop, session):
    connector = await connected(shop, session)
    spent = (shop.bucket_level("graphql") or 0) - 50
    assert shop.over_limit("graphql", shop.graphql_limit, spent) is None   # another client of the app
    assert (await connector.push([Listing("SHEET-008", 1)]))[0].ok
    assert connector.budget is not None and connector.budget.available < 260
    assert connector.limiter.would_wait("graphql")
    assert (await connector.push([Listing("SHEET-008", 2)]))[0].ok
    assert shop.stats["rate_limited"] == 0
