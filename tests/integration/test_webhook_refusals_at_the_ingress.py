"""The ingress refuses the dangerous deliveries of Etsy and Square with 401: logged in the partner's
sync log, never handed to its actor (nothing applied), and never a 500."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from connectors.base import Connector, PartnerSpec
from connectors.etsy import EtsyConnector
from connectors.etsy_format import sign_webhook
from connectors.square import SquareConnector
from connectors.square_format import SIGNATURE_HEADER, iso, signature
from store import listings as store
from store.engine import make_engine
from tests.conftest import sqlite_database
from web.ingress import create_ingress

PUBLIC = "https://threadcount.example.com/webhooks/square"
SQUARE_KEY = "sq-signature-key"
ETSY_BODY = b'{"event_type":"order.paid","resource_url":"https://openapi.etsy.com/v3/application/shops/1/receipts/2","shop_id":1}'


class Fleet:
    """The partner fleet as the ingress sees it; its actors only count what reaches them."""

    def __init__(self, verifiers: dict[str, Connector]):
        self.verifiers, self.applied = verifiers, 0

    def webhook_url(self, partner_id: str) -> str:
        return f"http://127.0.0.1:8001/webhooks/{partner_id}"

    def verify(self, partner_id: str, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        return self.verifiers[partner_id].verify_webhook(headers, body, url)

    def actor(self, _partner_id: str) -> Any:
        self.applied += 1
        raise AssertionError("a refused delivery reached the partner's actor")


def etsy(secret: str) -> EtsyConnector:
    creds = {"keystring": "k", "shared_secret": "s", "shop_id": "1", "webhook_secret": secret}
    return EtsyConnector(PartnerSpec("etsy", "etsy", "http://127.0.0.1:1", creds))


@pytest_asyncio.fixture
async def ingress(tmp_path: Path) -> AsyncIterator[tuple[TestClient, Fleet, Any]]:
    engine = make_engine(await sqlite_database(tmp_path))
    for partner_id, kind in (("etsy", "etsy"), ("etsy-unset", "etsy"), ("square", "square")):
        await store.ensure_partner(engine, partner_id, kind, partner_id, "", "reject", {})
    square = SquareConnector(PartnerSpec("square", "square", "http://127.0.0.1:1", {"signature_key": SQUARE_KEY},
                                         {"webhook_url": PUBLIC}))
    fleet = Fleet({"etsy": etsy("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "etsy-unset": etsy(""), "square": square})
    client = TestClient(TestServer(create_ingress(SimpleNamespace(partners=fleet, engine=engine, ready=True))))
    await client.start_server()
    try:
        yield client, fleet, engine
    finally:
        await client.close()
        await engine.dispose()


async def refused(engine: Any, partner_id: str) -> list[str]:
    return [row["message"] for row in await store.sync_log(engine, partner_id) if not row["ok"]]


async def test_an_etsy_timestamp_of_a_one_and_400_zeros_is_a_401_not_a_500(ingress: Any) -> None:
    client, fleet, engine = ingress
    huge = "1" + "0" * 400
    headers = {"webhook-id": "msg_1", "webhook-timestamp": huge,
               "webhook-signature": sign_webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", huge, ETSY_BODY)}
    answer = await client.post("/webhooks/etsy", data=ETSY_BODY, headers=headers)
    assert answer.status == 401 and fleet.applied == 0
    assert await refused(engine, "etsy") == ["refused: bad or missing signature"]


async def test_an_empty_etsy_secret_verifies_no_delivery(ingress: Any) -> None:
    client, fleet, engine = ingress
    stamp = str(int(time.time()))
    headers = {"webhook-id": "msg_1", "webhook-timestamp": stamp,
               "webhook-signature": sign_webhook("whsec_", "msg_1", stamp, ETSY_BODY)}
    answer = await client.post("/webhooks/etsy-unset", data=ETSY_BODY, headers=headers)
    assert answer.status == 401 and fleet.applied == 0
    assert len(await refused(engine, "etsy-unset")) == 1


async def test_a_stale_square_delivery_is_refused_logged_and_not_applied(ingress: Any) -> None:
    client, fleet, engine = ingress
    body = json.dumps({"merchant_id": "M", "type": "order.updated", "event_id": "e-1",
                       "created_at": iso(time.time() - 2 * 86_400), "data": {}}).encode()
    answer = await client.post("/webhooks/square", data=body,
                               headers={SIGNATURE_HEADER: signature(SQUARE_KEY, PUBLIC, body)})
    assert answer.status == 401 and fleet.applied == 0
    assert await refused(engine, "square") == ["refused: bad or missing signature"]


async def test_a_square_delivery_signed_over_the_listeners_own_address_is_refused(ingress: Any) -> None:
    client, fleet, _ = ingress
    body = json.dumps({"merchant_id": "M", "type": "order.updated", "event_id": "e-2",
                       "created_at": iso(time.time()), "data": {}}).encode()
    own = "http://127.0.0.1:8001/webhooks/square"
    answer = await client.post("/webhooks/square", data=body, headers={SIGNATURE_HEADER: signature(SQUARE_KEY, own, body)})
    assert answer.status == 401 and fleet.applied == 0


async def test_a_delivery_its_actor_does_not_take_in_time_is_a_503_that_says_so(
        ingress: Any, monkeypatch: Any) -> None:
    client, fleet, _ = ingress
    monkeypatch.setattr("web.ingress.WEBHOOK_TIMEOUT", 0.05)
    stuck = SimpleNamespace(take_webhook=SimpleNamespace(remote=lambda headers, body: asyncio.sleep(5)))
    monkeypatch.setattr(fleet, "actor", lambda partner_id: stuck)
    stamp = str(int(time.time()))
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = {"webhook-id": "msg_9", "webhook-timestamp": stamp,
               "webhook-signature": sign_webhook(secret, "msg_9", stamp, ETSY_BODY)}
    answer = await client.post("/webhooks/etsy", data=ETSY_BODY, headers=headers)
    error = (await answer.json())["error"]
    assert answer.status == 503 and error["code"] == "unavailable"
    assert error["message"] == "the delivery was not taken within 0.05 s; the partner's retry is safe"
    assert answer.headers["Retry-After"] == "1"


async def test_an_ingress_answer_refused_or_not_carries_the_callers_request_id_or_a_new_one(ingress: Any) -> None:
    client, _fleet, _engine = ingress
    refused_answer = await client.post("/webhooks/etsy", data=ETSY_BODY, headers={"X-Request-Id": "hook-7"})
    assert refused_answer.status == 401 and refused_answer.headers["X-Request-Id"] == "hook-7"
    unsigned = await client.post("/webhooks/square", data=b"{}")
    assert unsigned.status == 401 and len(unsigned.headers["X-Request-Id"]) == 32
    health = await client.get("/healthz", headers={"X-Request-Id": "bad id"})
    assert len(health.headers["X-Request-Id"]) == 32
