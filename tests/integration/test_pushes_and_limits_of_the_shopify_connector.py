"""The Shopify connector against the Shopify simulator, over real HTTP on loopback: starting and
its tokens, pushes of quantities, and the shop's limits and failures (orders and webhooks are in
test_orders_and_webhooks_of_the_shopify_connector)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import aiohttp
import pytest

from connectors.base import AuthExpired, Listing, PartnerError, RateLimited
from connectors.limits import RateSpec
from connectors.shopify import ShopifyConnector
from connectors.shopify_format import SET_QUANTITIES, gid
from simulators.clock import JumpingClock
from simulators.shopify import GRAPHQL_LIMIT, INVALID_TOKEN, REST_LIMIT, ShopifySimulator
from sync.limits import RateLimiter
from tests.integration.shopify_shop import SKUS, connected, running


async def graphql(sim: ShopifySimulator, session: aiohttp.ClientSession, quantities: list[dict[str, Any]],
                  key: str) -> dict[str, Any]:
    body = {"query": SET_QUANTITIES, "variables": {"input": {"name": "available", "reason": "correction",
                                                             "quantities": quantities}, "key": key}}
    headers = {"X-Shopify-Access-Token": sim.config.credentials["access_token"]}
    async with session.post(f"{sim.base_url}/admin/api/2026-04/graphql.json", json=body, headers=headers) as answer:
        result: dict[str, Any] = await answer.json()
        return result


def quantity(sim: ShopifySimulator, sku: str, value: int, change_from: int | None = None) -> dict[str, Any]:
    return {"inventoryItemId": gid("InventoryItem", sim.variants[sku]["inventory_item_id"]),
            "locationId": gid("Location", sim.location_id), "quantity": value, "changeFromQuantity": change_from}


# --- auth ----------------------------------------------------------------------------------------


async def test_start_finds_the_first_location_and_the_inventory_item_of_every_sku(shop, session):
    connector = await connected(shop, session)
    assert connector.location_id == shop.location_id
    assert connector.items == {sku: shop.variants[sku]["inventory_item_id"] for sku in SKUS}


async def test_an_offline_token_keeps_working_long_past_the_simulators_token_ttl(session):
    clock = JumpingClock()
    async with running(SKUS, token_ttl=0.05, clock=clock) as sim:
        connector = await connected(sim, session)
        clock.jump(3600)   # far past the TTL, and past any token lifetime an online token has
        assert [r.ok for r in await connector.push([Listing("SHEET-001", 4)])] == [True]
        assert sim.listings["SHEET-001"] == 4
        assert connector.spec.credentials == sim.config.credentials  # nothing to refresh, nothing rewritten


async def test_a_revoked_token_is_refused_with_shopifys_answer_as_expired_auth(shop, session):
    with pytest.raises(AuthExpired, match=r"Invalid API key or access token"):
        await connected(shop, session, credentials={**shop.config.credentials, "access_token": "shpat_revoked"})
    assert shop.stats["unauthorized"] == 1
    headers = {"X-Shopify-Access-Token": "shpat_revoked"}
    async with session.get(f"{shop.base_url}/admin/api/2025-10/locations.json", headers=headers) as answer:
        assert answer.status == 401
        assert await answer.json() == {"errors": INVALID_TOKEN}


# --- push ----------------------------------------------------------------------------------------


async def test_a_push_sets_the_shown_quantity_at_the_shop(shop, session):
    connector = await connected(shop, session)
    calls = shop.stats["calls:graphql"]   # start found the variants with GraphQL too
    results = await connector.push([Listing("SHEET-000", 7)])
    assert [(r.sku, r.ok) for r in results] == [("SHEET-000", True)]
    assert shop.listings["SHEET-000"] == 7
    assert shop.stats["calls:graphql"] - calls == 1


async def test_a_large_push_goes_in_calls_of_at_most_250_quantities(session):
    skus = [f"PILLOW-{i:03d}" for i in range(300)]
    async with running(skus) as sim:
        connector = await connected(sim, session)
        calls = sim.stats["calls:graphql"]
        results = await connector.push([Listing(sku, i % 9) for i, sku in enumerate(skus)])
        assert all(r.ok for r in results)
        assert sim.stats["calls:graphql"] - calls == 2
        assert sim.listings == {sku: i % 9 for i, sku in enumerate(skus)}


async def test_a_refused_quantity_fails_alone_and_the_rest_of_its_call_is_applied(shop, session):
    connector = await connected(shop, session)
    results = await connector.push([Listing("SHEET-001", 3), Listing("SHEET-002", 2_000_000_000),
                                    Listing("SHEET-003", 5)])
    assert [r.ok for r in results] == [True, False, True]
    assert "INVALID_QUANTITY_TOO_HIGH" in results[1].error
    assert (shop.listings["SHEET-001"], shop.listings["SHEET-002"], shop.listings["SHEET-003"]) == (3, 0, 5)


async def test_an_sku_shopify_does_not_list_is_reported_and_not_sent(shop, session):
    connector = await connected(shop, session)
    results = await connector.push([Listing("NOT-LISTED", 3), Listing("SHEET-004", 1)])
    assert [(r.sku, r.ok) for r in results] == [("NOT-LISTED", False), ("SHEET-004", True)]
    assert "no Shopify variant" in results[0].error


async def test_a_replayed_idempotency_key_gets_the_first_answer_and_is_applied_once(shop, session):
    key = str(uuid.uuid4())
    first = await graphql(shop, session, [quantity(shop, "SHEET-005", 9)], key)
    shop.listings["SHEET-005"] = 1   # a hand edit in between: a replay must not undo it
    again = await graphql(shop, session, [quantity(shop, "SHEET-005", 9)], key)
    assert again["data"] == first["data"]
    assert first["data"]["inventorySetQuantities"]["userErrors"] == []
    assert shop.listings["SHEET-005"] == 1
    assert shop.stats["idempotent_replays"] == 1
    other = await graphql(shop, session, [quantity(shop, "SHEET-005", 4)], key)
    codes = [e["code"] for e in other["data"]["inventorySetQuantities"]["userErrors"]]
    assert codes == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]


async def test_a_stale_change_from_quantity_is_refused_and_nothing_is_set(shop, session):
    shop.listings.update({"SHEET-006": 5, "SHEET-007": 5})
    answer = await graphql(shop, session, [quantity(shop, "SHEET-006", 8, change_from=5),
                                           quantity(shop, "SHEET-007", 8, change_from=4)], str(uuid.uuid4()))
    result = answer["data"]["inventorySetQuantities"]
    assert result["inventoryAdjustmentGroup"] is None
    assert [(e["code"], e["field"]) for e in result["userErrors"]] == [
        ("CHANGE_FROM_QUANTITY_STALE", ["input", "quantities", "1", "changeFromQuantity"])]
    assert (shop.listings["SHEET-006"], shop.listings["SHEET-007"]) == (5, 5)
    assert answer["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 2000


async def test_read_listings_shows_what_the_shop_shows_hand_edits_included(shop, session):
    connector = await connected(shop, session)
    await connector.push([Listing(sku, 10) for sku in SKUS])
    shop.listings["SHEET-008"] = 2   # someone edited it in the Shopify admin
    shown = await connector.read_listings([*SKUS, "NOT-LISTED"])
    assert shown == {**{sku: 10 for sku in SKUS}, "SHEET-008": 2}


# --- limits and failures -------------------------------------------------------------------------


async def test_shopifys_429_is_raised_with_its_retry_after_and_the_limiter_then_waits(shop, session):
    connector = await connected(shop, session)
    shop.throttle(rest=1)
    with pytest.raises(RateLimited) as raised:
        await connector.read_listings(SKUS)
    assert raised.value.retry_after == pytest.approx(0.3)
    assert connector.limiter.would_wait("rest")
    started = time.monotonic()
    assert await connector.read_listings(SKUS[:1]) == {SKUS[0]: 0}
    assert time.monotonic() - started >= 0.25
    assert shop.stats["rate_limited"] == 0


async def test_a_throttled_graphql_call_is_rate_limited_until_the_cost_is_restored(shop, session):
    connector = await connected(shop, session)
    shop.throttle(graphql=1)
    with pytest.raises(RateLimited) as raised:
        await connector.push([Listing("SHEET-002", 6)])
    assert raised.value.retry_after == pytest.approx(11 / 100)   # cost 11 at 100 points a second
    assert connector.limiter.would_wait("graphql", 11)
    started = time.monotonic()
    assert (await connector.push([Listing("SHEET-002", 6)]))[0].ok
    assert time.monotonic() - started >= 0.09
    assert shop.listings["SHEET-002"] == 6


async def test_every_rest_answer_carries_the_call_limit_header(shop, session):
    headers = {"X-Shopify-Access-Token": shop.config.credentials["access_token"]}
    url = f"{shop.base_url}/admin/api/2025-10/locations.json"
    async with session.get(url, headers=headers) as answer:
        assert answer.headers["X-Shopify-Shop-Api-Call-Limit"] == "1/40"
    async with session.get(url, headers=headers) as answer:   # the bucket leaks 2 a second meanwhile
        assert answer.headers["X-Shopify-Shop-Api-Call-Limit"] in ("1/40", "2/40")
    shop.throttle(rest=1)
    async with session.get(url, headers=headers) as answer:
        assert answer.status == 429
        assert answer.headers["Retry-After"] == "0.3"
        assert "X-Shopify-Shop-Api-Call-Limit" in answer.headers
        assert (await answer.json())["errors"].startswith("Exceeded 2 calls per second")


async def test_a_shop_that_fails_is_a_partner_error_worth_retrying(shop, session):
    connector = await connected(shop, session)
    shop.faults.error_rate = 1.0
    with pytest.raises(PartnerError):
        await connector.push([Listing("SHEET-003", 1)])
    await shop.stop()
    with pytest.raises(PartnerError):
        await connector.read_listings(SKUS)


def test_the_connector_declares_the_limits_the_shop_enforces():
    declared = {name: (spec.rate, spec.burst) for name, spec in ShopifyConnector.limits.items()}
    assert declared == {"rest": (REST_LIMIT.per_second, REST_LIMIT.burst),
                        "graphql": (GRAPHQL_LIMIT.per_second, GRAPHQL_LIMIT.burst)}
    assert ShopifyConnector.max_push_batch == 250


SMALL = {"rest_bucket": 4, "rest_leak": 20.0, "graphql_bucket": 300, "graphql_restore": 2000.0}


def small_limiter() -> RateLimiter:
    """The connector's own limiter, built as the config builds it from lowered published limits."""
    return RateLimiter({"rest": RateSpec(20.0, 4).scaled(0.9), "graphql": RateSpec(2000.0, 300).scaled(0.9)})


async def test_many_skus_through_the_connectors_own_limiter_never_overrun_the_shop(session):
    skus = [f"DUVET-{i:04d}" for i in range(1000)]
    async with running(skus, options=SMALL) as sim:
        connector = await connected(sim, session, small_limiter())
        assert len(connector.items) == 1000   # four pages of productVariants
        results = await connector.push([Listing(sku, 3) for sku in skus])
        assert all(r.ok for r in results)
        assert await connector.read_listings(skus) == {sku: 3 for sku in skus}
        # 4 pages of variants and 4 pushes; 1 locations call and 20 of inventory levels
        assert sim.stats["calls:graphql"] == 8 and sim.stats["calls:rest"] == 21
        assert sim.stats["rate_limited"] == 0


async def test_without_a_limiter_the_same_load_overruns_the_shop(session):
    skus = [f"DUVET-{i:04d}" for i in range(1000)]
    async with running(skus, options=SMALL) as sim:
        connector = await connected(sim, session, small_limiter())
        connector.limiter = RateLimiter({})
        with pytest.raises(RateLimited):
            await connector.push([Listing(sku, 3) for sku in skus])
        assert sim.stats["rate_limited"] >= 1
