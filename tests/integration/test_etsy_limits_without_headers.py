"""Etsy's 429 as the real API sends it: none of the x-limit/x-remaining counts and no Retry-After,
so the connector tells a spent day from a busy second by the counts it saw last."""

from __future__ import annotations

import pytest

from connectors.base import RateLimited
from tests.integration.test_etsy_connector import etsy

RATE_HEADERS = ("x-limit-per-second", "x-remaining-this-second", "x-limit-per-day", "x-remaining-today")


async def test_etsys_429_carries_no_rate_counts_and_no_retry_after() -> None:
    async with etsy() as shop:
        await shop.sim_call("POST", "/_sim/throttle", json={"count": 1})
        status, body, headers = await shop.api_call("GET", f"/v3/application/shops/{shop.creds['shop_id']}/receipts")
        assert status == 429 and "error" in body
        lowered = {name.lower() for name in headers}
        assert not lowered & {*RATE_HEADERS, "retry-after"}


async def test_a_day_spent_by_another_tool_is_told_from_a_busy_second_and_waited_out_long() -> None:
    async with etsy(options={"limit_per_day": 8}) as shop:   # start takes 5 of the 8
        for _ in range(3):
            await shop.api_call("GET", f"/v3/application/shops/{shop.creds['shop_id']}/receipts")
        with pytest.raises(RateLimited, match="day's calls are spent") as raised:
            await shop.connector.read_listings(["SHEET-Q-WHT"])
        assert raised.value.retry_after == 1800
        assert shop.connector.limiter.would_wait("daily") and shop.connector.limiter.would_wait("request")
        assert shop.sim.stats["rate_limited"] == 1   # one 429, then quiet: no hammering

