"""Refused webhooks cannot grow the sync log at will: per partner at most PER_MINUTE rows a minute,
the rest counted in one summary row."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from store import listings as store
from store.engine import make_engine
from tests.conftest import sqlite_database
from web.ingress import create_ingress
from web.ingress_refusals import PER_MINUTE, RefusalLog


class RefusingFleet:
    """Every delivery's signature is wrong, as for a partner that takes no webhooks at all."""

    def webhook_url(self, partner_id: str) -> str:
        return f"http://127.0.0.1:8001/webhooks/{partner_id}"

    def verify(self, _partner_id: str, _headers: Mapping[str, str], _body: bytes, _url: str) -> bool:
        return False

    def actor(self, _partner_id: str) -> Any:
        raise AssertionError("a refused delivery reached the partner's actor")


async def refusal_rows(engine: Any, partner_id: str) -> list[str]:
    return [row["message"] for row in await store.sync_log(engine, partner_id, 10_000) if not row["ok"]]


async def test_500_refused_webhooks_write_at_most_the_cap_and_one_summary(tmp_path: Path) -> None:
    engine = make_engine(await sqlite_database(tmp_path))
    await store.ensure_partner(engine, "amazon", "amazon", "Amazon", "", "reject", {})
    client = TestClient(TestServer(create_ingress(SimpleNamespace(partners=RefusingFleet(), engine=engine,
                                                                  ready=True))))
    await client.start_server()
    try:
        for _ in range(50):
            answers = await asyncio.gather(*(client.post("/webhooks/amazon", data=b"{}") for _ in range(10)))
            assert {answer.status for answer in answers} == {401}
        assert len(await refusal_rows(engine, "amazon")) == PER_MINUTE
    finally:
        await client.close()   # the ingress stopping writes what it only counted
    rows = await refusal_rows(engine, "amazon")
    assert len(rows) == PER_MINUTE + 1
    assert rows[0].startswith(f"refused: {500 - PER_MINUTE} more deliveries in a minute")
    await engine.dispose()


async def test_the_next_minute_logs_again_after_summarising_the_last(tmp_path: Path) -> None:
    engine = make_engine(await sqlite_database(tmp_path))
    await store.ensure_partner(engine, "wholesale", "wholesale", "Wholesale", "", "reject", {})
    now = [1000.0]
    log = RefusalLog(lambda: engine, per_minute=3, clock=lambda: now[0])
    for _ in range(7):
        await log.refused("wholesale", "bad or missing signature")
    now[0] += 61
    await log.refused("wholesale", "bad or missing signature")
    rows = list(reversed(await refusal_rows(engine, "wholesale")))
    assert rows == ["refused: bad or missing signature"] * 3 + [
        "refused: 4 more deliveries in a minute, not logged one by one (at most 3 a minute are)",
        "refused: bad or missing signature"]
    await engine.dispose()
