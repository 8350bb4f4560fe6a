"""AmazonConnector against AmazonSimulator over loopback HTTP: LWA refresh, listing patches and
JSON_LISTINGS_FEED, and the partner's usage plans (the orders are in test_amazon_orders)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from connectors.base import AuthExpired, Listing, RateLimited
from connectors.limits import RateSpec
from simulators.amazon import AmazonSimulator
from sync.limits import RateLimiter
from tests.integration.amazon_seller import SKUS, connect, running


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[AmazonSimulator]:
    async with running() as started:
        yield started


# --- auth -------------------------------------------------------------------------------------------

async def test_start_authenticates_and_learns_the_sellers_skus_page_by_page(
        sim: AmazonSimulator, session: aiohttp.ClientSession) -> None:
    connector = connect(sim, session)

    await connector.start()

    assert connector.listed == set(SKUS)
    assert sim.stats["calls:searchListingsItems"] == 3   # 45 SKUs, 20 a page
    assert connector.spec.credentials["access_token"].startswith("Atza|")
    assert float(connector.spec.credentials["access_token_expires_at"]) > time.time()


async def test_a_token_near_its_expiry_is_refreshed_before_the_call_and_calls_keep_working(
        session: aiohttp.ClientSession) -> None:
    async with running(token_ttl=0.5) as sim:
        connector = connect(sim, session)
        first = await connector.read_listings(["SHEET-001"])
        token = connector.spec.credentials["access_token"]
        await asyncio.sleep(0.5)

        again = await connector.read_listings(["SHEET-001"])

    assert first == again == {"SHEET-001": 0}
    assert connector.refreshes == 2
    assert connector.spec.credentials["access_token"] != token
    assert sim.stats["expired_tokens"] == 0   # refreshed before Amazon had to refuse it


async def test_a_token_amazon_calls_expired_is_refreshed_once_and_the_call_retried(
        sim: AmazonSimulator, session: aiohttp.ClientSession) -> None:
    connector = connect(sim, session)
    await connector.start()
    sim.expire_tokens()

    results = await connector.push([Listing("SHEET-002", 9)])

    assert results[0].ok
    assert sim.listings["SHEET-002"] == 9
    assert sim.stats["expired_tokens"] == 1
    assert connector.refreshes == 2


async def test_a_refresh_token_amazon_refuses_raises_auth_expired(
        sim: AmazonSimulator, session: aiohttp.ClientSession) -> None:
    connector = connect(sim, session, credentials={**sim.config.credentials, "refresh_token": "Atzr|revoked"})

    with pytest.raises(AuthExpired, match="invalid_grant"):
        await connector.start()


# --- listings -----------------------------------------------------------------------------------------

async def test_a_small_push_patches_each_listing_and_reports_an_unknown_sku(
        sim: AmazonSimulator, session: aiohttp.ClientSession) -> None:
    connector = connect(sim, session)

    results = await connector.push([Listing("SHEET-001", 5), Listing("SHEET-002", 0), Listing("NOT-LISTED", 3)])

    assert [(r.sku, r.ok) for r in results] == [("SHEET-001", True), ("SHEET-002", True), ("NOT-LISTED", False)]
    assert "4000001" in results[2].error
    assert (sim.listings["SHEET-001"], sim.listings["SHEET-002"]) == (5, 0)
    assert sim.stats["calls:patchListingsItem"] == 3
    assert sim.stats["calls:createFeed"] == 0


async def test_a_large_push_goes_as_one_json_listings_feed(
        sim: AmazonSimulator, session: aiohttp.ClientSession) -> None:
    connector = connect(sim, session)
    listings = [Listing(sku, n) for n, sku in enumerate(SKUS[:30])] + [Listing("NOT-LISTED", 1)]

    results = await connector.push(listings)

    assert all(r.ok for r in results[:30])
    assert not results[30].ok and "NOT-LISTED" in results[30].error
    assert {sku: sim.listings[sku] for sku in SKUS[:30]} == {sku: n for n, sku in enumerate(SKUS[:30])}
    assert (sim.stats["calls:createFeed"], sim.stats["feeds_processed"]) == (1, 1)
    assert sim.stats["calls:patchListingsItem"] == 0


async def test_a_large_push_falls_back_to_patches_when_create_feed_has_no_token(
        sim: AmazonSimulator, session: aiohttp.ClientSession) -> None:
    connector = connect(sim, session, feed_threshold=5)
    connector.limiter.honour("createFeed", 120)

    results = await connector.push([Listing(sku, 4) for sku in SKUS[:6]])

    assert all(r.ok for r in results)
    assert sim.stats["calls:createFeed"] == 0
    assert sim.stats["calls:patchListingsItem"] == 6


async def test_a_push_keeps_the_sellers_handling_time_and_restock_date(
        session: aiohttp.ClientSession) -> None:
    async with running(options={"lead_time_to_ship_max_days": 4}) as sim:
        sim.listings_api.availability["SHEET-001"]["restock_date"] = "2026-03-01"
        connector = connect(sim, session, feed_threshold=3)
        await connector.push([Listing("SHEET-001", 6)])
        await connector.push([Listing(sku, 2) for sku in SKUS[2:5]])   # one JSON_LISTINGS_FEED
        kept = dict(sim.listings_api.availability)

    assert sim.listings["SHEET-001"] == 6 and sim.stats["calls:createFeed"] == 1
    assert kept["SHEET-001"] == {"lead_time_to_ship_max_days": 4, "restock_date": "2026-03-01"}
    assert all(kept[sku] == {"lead_time_to_ship_max_days": 4} for sku in SKUS[2:5])
    assert sim.stats["availability_merge"] == 4 and sim.stats["availability_replace"] == 0


async def test_read_listings_shows_what_amazon_shows_and_leaves_out_unknown_skus(
        sim: AmazonSimulator, session: aiohttp.ClientSession) -> None:
    connector = connect(sim, session)
    sim.listings["SHEET-003"] = 17   # a hand edit in Seller Central

    shown = await connector.read_listings(["SHEET-003", "SHEET-004", "NOT-LISTED"])

    assert shown == {"SHEET-003": 17, "SHEET-004": 0}


async def test_amazon_has_no_webhooks_so_no_delivery_is_ever_accepted(
        sim: AmazonSimulator, session: aiohttp.ClientSession) -> None:
    connector = connect(sim, session)

    assert "webhook" not in connector.capabilities
    assert not connector.verify_webhook({"x-amz-sns-message-type": "Notification"}, b"{}", "http://x/webhooks/a")


# --- usage plans ------------------------------------------------------------------------------------

async def test_amazons_429_raises_rate_limited_and_our_bucket_then_waits_about_one_over_the_rate(
        sim: AmazonSimulator, session: aiohttp.ClientSession) -> None:
    too_fast = RateLimiter({"getListingsItem": RateSpec(1000, 1000)})
    connector = connect(sim, session, limiter=too_fast)
    await connector.start()

    outcomes = await asyncio.gather(*(connector.read_listings(["SHEET-001"]) for _ in range(15)),
                                    return_exceptions=True)

    refused = [o for o in outcomes if isinstance(o, RateLimited)]
    assert refused and sim.stats["rate_limited:getListingsItem"] == len(refused)
    assert refused[0].retry_after == pytest.approx(1 / 5)
    assert too_fast.would_wait("getListingsItem")
    started = time.monotonic()
    assert await connector.read_listings(["SHEET-001"]) == {"SHEET-001": 0}
    assert time.monotonic() - started >= 0.1


async def test_many_skus_through_the_connectors_own_limiter_never_trip_amazons_buckets(
        session: aiohttp.ClientSession) -> None:
    skus = [f"PILLOW-{n:03d}" for n in range(220)]
    async with running(skus=skus) as sim:
        connector = connect(sim, session)
        await connector.start()
        for start in range(0, len(skus), connector.max_push_batch):
            results = await connector.push([Listing(sku, 3) for sku in skus[start:start + connector.max_push_batch]])
            assert all(r.ok for r in results)
        shown = await connector.read_listings(skus[:12])

    assert shown == dict.fromkeys(skus[:12], 3)
    assert set(sim.listings.values()) == {3}
    assert sim.stats["calls:createFeed"] == 2 and sim.stats["calls:patchListingsItem"] == 20
    assert sim.stats["rate_limited"] == 0


async def test_calls_that_waited_for_a_slow_token_refresh_still_reach_amazon_no_faster_than_its_rate(
        session: aiohttp.ClientSession) -> None:
    """Each call takes its token from our bucket just before it is sent: taken before the seller's
    access token, the calls that queued behind its refresh all went out together when it came."""
    async with running() as sim:
        async with session.post(f"{sim.base_url}/_sim/faults", json={"latency_ms": 1000}) as answer:
            assert answer.status == 200
        connector = connect(sim, session)   # no access token yet: the first call fetches it

        outcomes = await asyncio.gather(*(connector.read_listings(["SHEET-001"]) for _ in range(12)),
                                        return_exceptions=True)

    assert outcomes == [{"SHEET-001": 0}] * 12
    assert sim.stats["calls:getListingsItem"] == 12 and sim.stats["rate_limited"] == 0


async def test_answers_carry_the_usage_plans_rate_and_throttling_has_amazons_shape(
        sim: AmazonSimulator, session: aiohttp.ClientSession) -> None:
    connector = connect(sim, session)
    await connector.start()
    url = f"{sim.base_url}/listings/2021-08-01/items/{sim.seller_id}/SHEET-001"
    headers = {"x-amz-access-token": connector.spec.credentials["access_token"]}
    query = {"marketplaceIds": "ATVPDKIKX0DER"}

    answers = []
    for _ in range(12):   # the getListingsItem bucket holds 5
        async with session.get(url, params=query, headers=headers) as answer:
            answers.append((answer.status, answer.headers.get("x-amzn-RateLimit-Limit"), await answer.json()))

    assert answers[0][:2] == (200, "5")
    status, _, body = answers[-1]
    assert status == 429
    assert body == {"errors": [{"code": "QuotaExceeded", "details": "",
                                "message": "You exceeded your quota for the requested resource."}]}
