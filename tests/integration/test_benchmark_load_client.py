"""The benchmark's load client against a real HTTP server: it posts each order with the bearer token,
keeps its connection, opens another when the server closes one (with `Connection: close` or without
an answer), and counts what failed instead of stopping."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from tests.benchmark.load import LoadPlan, generate

pytestmark = pytest.mark.integration


@pytest.fixture
async def orders_server() -> AsyncIterator[tuple[str, Counter[str], Counter[str]]]:
    seen: Counter[str] = Counter()
    ids: Counter[str] = Counter()

    async def place(request: web.Request) -> web.StreamResponse:
        seen["requests"] += 1
        assert request.headers["Authorization"] == "Bearer s3cret"
        body = await request.json()
        assert body["lines"] == [{"sku": "SKU-1", "quantity": 1}]
        ids[body["external_id"]] += 1
        if seen["requests"] % 25 == 0:  # no answer: the connection just ends
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        answer = web.json_response({"status": "reserved"}, status=201,
                                   headers={"X-Threadcount-Worker": str(seen["requests"] % 2)})
        if seen["requests"] % 10 == 0:
            answer.force_close()  # Connection: close
        return answer

    app = web.Application()
    app.router.add_post("/api/v1/orders", place)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}/api/v1/orders", seen, ids
    await runner.cleanup()


async def test_the_load_client_keeps_posting_across_closed_connections_and_counts_failures(
        orders_server: tuple[str, Counter[str], Counter[str]]) -> None:
    url, seen, ids = orders_server
    tally = await generate(LoadPlan(url, ["SKU-1"], clients=4, warmup=0.2, duration=1.0, token="s3cret"))
    failed = tally.errors + tally.errors_outside_window
    assert tally.ok_total > 100
    assert tally.ok_total + failed == seen["requests"]
    assert failed == seen["requests"] // 25
    assert all("ConnectionResetError" in sample for sample in tally.error_samples)
    assert set(tally.statuses) == {"reserved"} and set(tally.answered_by) == {"0", "1"}
    assert sum(tally.answered_by.values()) == len(tally.latencies)
    assert set(ids.values()) == {1}  # each order its own external id, none sent twice


async def test_the_load_client_given_a_rate_sends_that_many_orders_a_second_and_no_more(
        orders_server: tuple[str, Counter[str], Counter[str]]) -> None:
    url, seen, _ = orders_server
    tally = await generate(LoadPlan(url, ["SKU-1"], clients=4, warmup=0.2, duration=1.0, token="s3cret", rate=200))
    # 1.2 s at 200 a second; the server answers in far less than a client's 20 ms between sends
    assert 220 <= seen["requests"] <= 245
    assert 190 <= len(tally.latencies) + tally.errors <= 205
