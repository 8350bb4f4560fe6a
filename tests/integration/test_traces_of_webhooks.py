"""A webhook's trace, in one process, read from the in-memory exporter: the ingress's request span (under
the partner's own `traceparent`) goes with the delivery to the partner's actor, whose `partner.webhook`
span is its child and is current while the delivery's orders go to the shards. Without traces, the
delivery goes to the actor exactly as before."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from actors import tracing
from actors.partner import PartnerConnector
from connectors.base import PartnerSpec
from inventory.desk import Channel
from sync.config import PartnerConfig
from sync.rules import ShowRule
from tests.harness.otlp import in_memory_spans
from tests.harness.secret_box import fresh_box
from web.ingress import create_ingress

PARTNERS_TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with in_memory_spans() as exporter:
        yield exporter


class Actor:
    """A partner's actor handle as the ingress calls it: `take_webhook.remote(headers, body[, trace])`."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.take_webhook = self

    def remote(self, *args: Any) -> asyncio.Future[dict[str, Any]]:
        self.calls.append(args)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        future.set_result({"status": "applied"})
        return future


class Fleet:
    def __init__(self) -> None:
        self.handle = Actor()

    def webhook_url(self, partner_id: str) -> str:
        return f"http://127.0.0.1:8001/webhooks/{partner_id}"

    def verify(self, partner_id: str, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        return True

    def actor(self, _partner_id: str) -> Any:
        return self.handle


async def deliver(fleet: Fleet) -> int:
    client = TestClient(TestServer(create_ingress(SimpleNamespace(partners=fleet, engine=None, ready=True))))
    await client.start_server()
    try:
        answer = await client.post("/webhooks/shop", data=b'{"id": 1}', headers={"traceparent": PARTNERS_TRACE})
        return answer.status
    finally:
        await client.close()


async def test_the_ingress_request_span_continues_the_partners_trace_and_goes_with_the_delivery(
        spans: InMemorySpanExporter) -> None:
    fleet = Fleet()
    assert await deliver(fleet) == 200
    (server,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert server.parent is not None and server.name == "POST /webhooks/{partner_id}"
    assert server.attributes is not None and server.attributes["http.response.status_code"] == 200
    assert (f"{server.context.trace_id:032x}", f"{server.parent.span_id:016x}") == \
           ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
    ((_headers, _body, trace),) = fleet.handle.calls
    sent = tracing.remote(trace)
    assert sent is not None and (sent.trace_id, sent.span_id) == (server.context.trace_id, server.context.span_id)


async def test_without_traces_the_delivery_goes_as_before() -> None:
    fleet = Fleet()
    assert await deliver(fleet) == 200
    assert [len(call) for call in fleet.handle.calls] == [2]


class Sync:
    """The partner's sync, reduced to noting the span its delivery was taken under."""

    def __init__(self) -> None:
        self.taken_under: list[Any] = []

    async def take_webhook(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        self.taken_under.append(tracing.here())
        return {"status": "applied"}


async def test_the_connector_takes_a_traced_delivery_inside_a_partner_webhook_span_under_the_ingress(
        spans: InMemorySpanExporter) -> None:
    config = PartnerConfig("shop", "shopify", "Shop", "http://127.0.0.1:1", {}, {})
    connector = PartnerConnector(config, PartnerSpec("shop", "shopify", "http://127.0.0.1:1", {}),
                                 Channel("shop", "reject", (1,)), ShowRule(), "sqlite+aiosqlite:///unused",
                                 "FULL", [], secret_keys=fresh_box().keys)
    sync = Sync()
    connector._sync = sync  # type: ignore[assignment]
    assert await connector.take_webhook({}, b"{}", {"traceparent": PARTNERS_TRACE}) == {"status": "applied"}
    (webhook,) = spans.get_finished_spans()
    assert (webhook.name, webhook.kind) == ("partner.webhook", SpanKind.SERVER)
    assert webhook.parent is not None and f"{webhook.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert sync.taken_under == [webhook.context]
