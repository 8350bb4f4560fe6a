"""The part of Shopify's Admin GraphQL schema the simulator serves, per API version, so that a
request is parsed, validated and coerced by a real GraphQL engine (graphql-core) the way Shopify's
is: an unknown field, argument or directive is refused before anything runs, whatever the
operation is called.

What changes between versions (Shopify's changelog, "Concurrency protection features", 2025-12-12):
before 2026-01 `InventoryQuantityInput` has `compareQuantity` and the input `ignoreCompareQuantity`,
and there is no `changeFromQuantity` nor `@idempotent`; 2026-01 has all of them; from 2026-04
`compareQuantity`/`ignoreCompareQuantity` are gone (and changeFromQuantity is required at run time).
"""

from __future__ import annotations

import functools
import re

from graphql import GraphQLSchema, build_schema

RELEASED = ("2025-01", "2025-04", "2025-07", "2025-10", "2026-01", "2026-04", "2026-07", "2026-10")
UNSTABLE = "unstable"
CHANGE_FROM_SINCE = "2026-01"   # changeFromQuantity and @idempotent exist
COMPARE_GONE_SINCE = "2026-04"  # compareQuantity gone; changeFromQuantity and the key required
_HANDLE = re.compile(r"\d{4}-(01|04|07|10)")

_SDL = """
{directives}
scalar DateTime

type Query {{
  productVariants(first: Int, after: String, last: Int, before: String, query: String,
                  reverse: Boolean, sortKey: String): ProductVariantConnection!
}}

type Mutation {{
  inventorySetQuantities(input: InventorySetQuantitiesInput!): InventorySetQuantitiesPayload
  inventoryActivate(inventoryItemId: ID!, locationId: ID!, available: Int, onHand: Int,
                    stockAtLegacyLocation: Boolean): InventoryActivatePayload
}}

input InventorySetQuantitiesInput {{
  name: String!
  reason: String!
  referenceDocumentUri: String
  quantities: [InventoryQuantityInput!]!
  {ignore_compare}
}}

input InventoryQuantityInput {{
  inventoryItemId: ID!
  locationId: ID!
  quantity: Int!
  {quantity_checks}
}}

type InventorySetQuantitiesPayload {{
  inventoryAdjustmentGroup: InventoryAdjustmentGroup
  userErrors: [InventorySetQuantitiesUserError!]!
}}

type InventoryAdjustmentGroup {{
  id: ID!
  createdAt: DateTime!
  reason: String!
  referenceDocumentUri: String
  changes: [InventoryChange!]!
}}

type InventoryChange {{
  name: String!
  delta: Int!
  quantityAfterChange: Int
}}

type InventorySetQuantitiesUserError {{
  code: InventorySetQuantitiesUserErrorCode
  field: [String!]
  message: String!
}}

enum InventorySetQuantitiesUserErrorCode {{
  CHANGE_FROM_QUANTITY_STALE COMPARE_QUANTITY_REQUIRED COMPARE_QUANTITY_STALE
  IDEMPOTENCY_CONCURRENT_REQUEST IDEMPOTENCY_KEY_PARAMETER_MISMATCH IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED
  INVALID_INVENTORY_ITEM INVALID_LOCATION INVALID_NAME INVALID_QUANTITY_NEGATIVE INVALID_QUANTITY_TOO_HIGH
  INVALID_REASON INVALID_REFERENCE_DOCUMENT ITEM_NOT_STOCKED_AT_LOCATION NON_MUTABLE_INVENTORY_ITEM
  NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR
}}

type InventoryActivatePayload {{
  inventoryLevel: InventoryLevel
  userErrors: [UserError!]!
}}

type UserError {{
  field: [String!]
  message: String!
}}

type InventoryLevel {{
  id: ID!
  item: InventoryItem!
  location: Location!
  quantities(names: [String!]!): [InventoryQuantity!]!
}}

type InventoryQuantity {{
  name: String!
  quantity: Int!
}}

type Location {{
  id: ID!
  name: String!
}}

type InventoryItem {{
  id: ID!
  sku: String
  tracked: Boolean!
}}

type Product {{
  id: ID!
  title: String!
}}

type ProductVariant {{
  id: ID!
  sku: String
  title: String!
  inventoryItem: InventoryItem!
  product: Product!
}}

type ProductVariantEdge {{
  cursor: String!
  node: ProductVariant!
}}

type PageInfo {{
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}}

type ProductVariantConnection {{
  nodes: [ProductVariant!]!
  edges: [ProductVariantEdge!]!
  pageInfo: PageInfo!
}}
"""


def served_version(asked: str) -> str | None:
    """The version Shopify answers a request naming `asked` as: itself when released (or
    `unstable`), the oldest supported one for a retired version (Shopify falls forward), None for
    anything else (a version not released, or no version at all), which Shopify answers 404."""
    if asked in RELEASED or asked == UNSTABLE:
        return asked
    if _HANDLE.fullmatch(asked) and asked < RELEASED[0]:
        return RELEASED[0]
    return None


def at_least(version: str, since: str) -> bool:
    return version == UNSTABLE or version >= since


@functools.cache
def schema_for(version: str) -> GraphQLSchema:
    new, compare_gone = at_least(version, CHANGE_FROM_SINCE), at_least(version, COMPARE_GONE_SINCE)
    checks = [] if compare_gone else ["compareQuantity: Int"]
    checks += ["changeFromQuantity: Int"] if new else []
    return build_schema(_SDL.format(
        directives="directive @idempotent(key: String!) on FIELD" if new else "",
        ignore_compare="" if compare_gone else "ignoreCompareQuantity: Boolean = false",
        quantity_checks="\n  ".join(checks),
    ))
