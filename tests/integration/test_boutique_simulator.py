"""The boutique simulator over loopback HTTP, as any client meets it: its key, its query checks,
its page tokens and its 429 with Retry-After."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp

from simulators.base import SimConfig
from simulators.boutique import BoutiqueSimulator


@contextlib.asynccontextmanager
async def shop(burst: int = 8) -> AsyncIterator[tuple[BoutiqueSimulator, aiohttp.ClientSession, dict[str, str]]]:
    credentials = BoutiqueSimulator.demo_credentials("b")
    limit = {"rate_limit": {"rate": 2, "burst": burst}}
    sim = BoutiqueSimulator(SimConfig("b", dict(credentials), ["SHEET-1"], options=limit))
    await sim.start(port=0)
    try:
        async with aiohttp.ClientSession(base_url=sim.base_url) as session:
            yield sim, session, {"X-Api-Key": credentials["api_key"]}
    finally:
        await sim.stop()


async def test_a_call_without_the_key_is_401_in_the_boutiques_error_shape() -> None:
    async with shop() as (_sim, session, _key), session.get("/api/v2/orders") as answer:
        assert answer.status == 401
        assert (await answer.json())["error"]["type"] == "authentication_error"


async def test_an_unknown_query_parameter_or_a_made_up_page_token_is_400_naming_it() -> None:
    async with shop() as (_sim, session, key):
        for query, param in (({"since": "1"}, "since"), ({"page_token": "not-ours"}, "page_token"),
                             ({"limit": "500"}, "limit")):
            async with session.get("/api/v2/orders", params=query, headers=key) as answer:
                assert (answer.status, (await answer.json())["error"]["param"]) == (400, param)


async def test_over_the_rate_the_boutique_answers_429_with_retry_after_in_whole_seconds() -> None:
    async with shop(burst=2) as (sim, session, key):
        statuses = []
        for _ in range(3):
            async with session.get("/api/v2/orders", headers=key) as answer:
                statuses.append(answer.status)
                retry_after = answer.headers.get("Retry-After")
        assert statuses == [200, 200, 429] and retry_after == "1"
        assert sim.stats["rate_limited"] == 1
