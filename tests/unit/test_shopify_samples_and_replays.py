"""Shopify's published inventorySetQuantities sample (request and response, 2026-04 docs, retyped
here) fed to both sides: the simulator's schema and checks take the request, the connector reads
the response and Shopify's userErrors shape. The connector's own documents are valid GraphQL for
the version it names and not for older ones. And a webhook delivery triggered too long ago (a
replay: Shopify's own retries keep the first trigger time for 4 h) is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from graphql import parse, validate

from connectors.base import PartnerSpec
from connectors.shopify import ShopifyConnector
from connectors.shopify_format import API_VERSION, SET_QUANTITIES, split_user_errors, webhook_fresh
from connectors.shopify_graphql import ACTIVATE, VARIANTS, read_budget, read_variants
from simulators.shopify_schema import schema_for
from simulators.shopify_wire import SetQuantities

SAMPLE_REQUEST = """
mutation InventorySet($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
    inventoryAdjustmentGroup {
      createdAt
      reason
      referenceDocumentUri
      changes { name delta quantityAfterChange }
    }
    userErrors { code field message }
  }
}
"""
SAMPLE_INPUT = {"name": "available", "reason": "correction",
                "referenceDocumentUri": "logistics://some.warehouse/take/2023-01-23T13:14:15Z",
                "quantities": [{"inventoryItemId": "gid://shopify/InventoryItem/30322695",
                                "locationId": "gid://shopify/Location/124656943",
                                "quantity": 11, "changeFromQuantity": 0}]}
SAMPLE_RESPONSE: dict[str, Any] = {
    "data": {"inventorySetQuantities": {
        "inventoryAdjustmentGroup": {
            "createdAt": "2026-04-01T12:00:00Z", "reason": "correction",
            "referenceDocumentUri": "logistics://some.warehouse/take/2023-01-23T13:14:15Z",
            "changes": [{"name": "available", "delta": 11, "quantityAfterChange": 11},
                        {"name": "on_hand", "delta": 11, "quantityAfterChange": None}]},
        "userErrors": []}},
    "extensions": {"cost": {"requestedQueryCost": 10, "actualQueryCost": 10, "throttleStatus": {
        "maximumAvailable": 2000.0, "currentlyAvailable": 1990, "restoreRate": 100.0}}},
}
SAMPLE_USER_ERROR = {"code": "CHANGE_FROM_QUANTITY_STALE", "field": ["input", "quantities", "0", "changeFromQuantity"],
                     "message": "The changeFromQuantity value does not match persisted value."}


def test_the_simulator_takes_shopifys_sample_request_at_2026_04():
    assert validate(schema_for("2026-04"), parse(SAMPLE_REQUEST)) == []
    checked = SetQuantities({30322695: "SKU"}, {124656943}, lambda _i, _l: 0, "2026-04").check(SAMPLE_INPUT)
    assert (checked.changes, checked.errors) == ([(30322695, 124656943, 11)], [])


def test_the_sample_request_is_refused_before_2026_01_where_idempotent_does_not_exist():
    [problem] = validate(schema_for("2025-10"), parse(SAMPLE_REQUEST))
    assert "idempotent" in problem.message


def test_the_connector_reads_shopifys_sample_response_and_user_errors():
    result = SAMPLE_RESPONSE["data"]["inventorySetQuantities"]
    assert split_user_errors(result["userErrors"]) == ({}, [])
    assert split_user_errors([SAMPLE_USER_ERROR]) == (
        {0: "CHANGE_FROM_QUANTITY_STALE: The changeFromQuantity value does not match persisted value."}, [])
    budget = read_budget(SAMPLE_RESPONSE)
    assert budget is not None and (budget.available, budget.restore_rate) == (1990, 100)
    assert budget.wait_until(2000) == pytest.approx(0.1)


def test_the_connectors_documents_are_valid_at_its_version_and_the_mutation_not_before_2026_01():
    for document in (SET_QUANTITIES, ACTIVATE, VARIANTS):
        assert validate(schema_for(API_VERSION), parse(document)) == [], document
    assert validate(schema_for("2025-10"), parse(SET_QUANTITIES)) != []


def test_variants_are_read_with_the_next_cursor_only_while_there_is_a_next_page():
    data = {"productVariants": {"nodes": [{"sku": "A", "inventoryItem": {"id": "gid://shopify/InventoryItem/7"}},
                                          {"sku": None, "inventoryItem": {"id": "gid://shopify/InventoryItem/8"}}],
                                "pageInfo": {"hasNextPage": True, "endCursor": "abc"}}}
    assert read_variants(data) == ({"A": 7}, "abc")
    data["productVariants"]["pageInfo"]["hasNextPage"] = False
    assert read_variants(data) == ({"A": 7}, None)


# --- the replay window ---------------------------------------------------------------------------


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()[:-6] + "Z"


def test_a_delivery_is_fresh_within_shopifys_retry_schedule_and_stale_after_it():
    now = 1_800_000_000.0
    assert webhook_fresh({"X-Shopify-Triggered-At": stamp(now - 4 * 3600)}, now, max_age=5 * 3600)
    assert not webhook_fresh({"X-Shopify-Triggered-At": stamp(now - 6 * 3600)}, now, max_age=5 * 3600)
    assert not webhook_fresh({"X-Shopify-Triggered-At": stamp(now + 3600)}, now, max_age=5 * 3600)
    assert not webhook_fresh({"X-Shopify-Triggered-At": "yesterday"}, now, max_age=5 * 3600)
    assert not webhook_fresh({}, now, max_age=5 * 3600)


def test_a_signed_delivery_triggered_before_the_window_is_refused_by_the_connector():
    spec = PartnerSpec(id="shop", kind="shopify", base_url="", options={"webhook_max_age_s": 600},
                       credentials={"app_secret": "hush", "shop_domain": "linens.myshopify.com"})
    connector = ShopifyConnector(spec)
    body = b'{"id":1}'
    signature = base64.b64encode(hmac.new(b"hush", body, hashlib.sha256).digest()).decode()
    headers = {"X-Shopify-Hmac-Sha256": signature, "X-Shopify-Shop-Domain": "linens.myshopify.com"}
    assert connector.verify_webhook({**headers, "X-Shopify-Triggered-At": stamp(time.time() - 60)}, body, "")
    assert not connector.verify_webhook({**headers, "X-Shopify-Triggered-At": stamp(time.time() - 900)}, body, "")
    assert not connector.verify_webhook(headers, body, "")   # Shopify always says when it was triggered
