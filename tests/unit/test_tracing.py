"""Traces in one process, read from OpenTelemetry's in-memory exporter: off unless the standard variable
asks (and then nothing is made or carried), fan-in spans that are the child of their first traced
caller and link the rest, the router's shard.call span and the context it sends, the web port's
request span, and log lines that carry the current span's trace id."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from actors import tracing
from actors.logs import configure
from actors.router import ShardRouter
from inventory.commands import Command, Receive, Result, VariantStock
from tests.harness.otlp import in_memory_spans
from tests.unit.test_logs import restored_logging  # noqa: F401 (a fixture)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    with in_memory_spans() as exporter:
        yield exporter


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def request_span(name: str) -> Any:
    provider = tracing.provider()
    assert provider is not None
    return provider.get_tracer("test").start_as_current_span(name, kind=SpanKind.SERVER)


def test_tracing_is_wanted_only_with_an_otlp_endpoint_and_the_sdk_not_disabled() -> None:
    assert not tracing.wanted({})
    assert not tracing.wanted({"OTEL_SERVICE_NAME": "tc", "OTEL_EXPORTER_OTLP_ENDPOINT": " "})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing.wanted({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    assert not tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "true"})
    assert not tracing.wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_TRACES_EXPORTER": "none"})


def test_without_the_variable_nothing_is_set_up_made_or_carried() -> None:
    assert not tracing.start("test", {}) and not tracing.enabled()
    assert (tracing.here(), tracing.carrier(), tracing.trace_id()) == (None, None, None)
    assert tracing.remote({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}) is None
    with tracing.span("shard.batch", [None]) as made, tracing.detached():
        assert made is None


def test_a_fan_in_span_is_the_child_of_its_first_traced_caller_and_links_the_others(
        spans: InMemorySpanExporter) -> None:
    callers = []
    for i in range(3):
        with request_span(f"request-{i}"):
            callers.append(tracing.here())
    with tracing.span("shard.commit", [None, *callers, callers[1]]) as made:
        assert made is not None and tracing.here() == made.get_span_context()
    commit = named(spans, "shard.commit")[0]
    assert commit.parent == callers[0] and commit.context.trace_id == callers[0].trace_id
    assert [link.context for link in commit.links] == callers[1:]  # each once


def test_a_span_with_no_traced_caller_is_not_made(spans: InMemorySpanExporter) -> None:
    with tracing.span("shard.batch", [None, None]) as made:
        assert made is None
    assert spans.get_finished_spans() == ()


def test_the_context_sent_to_another_process_comes_back_as_the_same_span(spans: InMemorySpanExporter) -> None:
    with request_span("request"):
        here, sent = tracing.here(), tracing.carrier()
        assert here is not None and sent is not None and sent["traceparent"].startswith("00-")
        back = tracing.remote(sent)
        assert back is not None and (back.trace_id, back.span_id, back.is_remote) == (here.trace_id, here.span_id, True)
        assert tracing.trace_id() == sent["traceparent"][3:35] == f"{here.trace_id:032x}"


class Shard:
    """A fake shard actor handle: `apply_packed.remote(...)` as Ray's would be called."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.apply_packed = self

    def remote(self, *args: Any) -> asyncio.Future[bytes]:
        import pickle

        self.calls.append(args)
        commands: list[Command] = pickle.loads(args[0])
        answers: list[Result] = [VariantStock(7, {}, 0) for _ in commands]
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        future.set_result(pickle.dumps(answers))
        return future


async def _three_requests(router: ShardRouter) -> list[Any]:
    async def one(i: int) -> Any:
        with request_span(f"POST /api/v1/stock/receipts {i}"):
            await router.submit(0, Receive(f"c{i}", 7, 1, 1))
            return tracing.here()

    return list(await asyncio.gather(*(one(i) for i in range(3))))


async def test_one_shard_call_carries_three_requests_as_parent_and_links_and_sends_its_context(
        spans: InMemorySpanExporter) -> None:
    shard = Shard()
    router = ShardRouter.for_actors([shard], linger=0.01)
    try:
        requests = await _three_requests(router)
    finally:
        await router.close()
    (call,) = named(spans, "shard.call")
    assert call.kind == SpanKind.CLIENT and call.attributes == {"threadcount.shard": 0, "threadcount.commands": 3}
    assert call.parent == requests[0] and [link.context for link in call.links] == requests[1:]
    (args,) = shard.calls
    assert tracing.remote(args[1]).span_id == call.context.span_id


async def test_with_tracing_off_the_shard_gets_the_batch_alone() -> None:
    shard = Shard()
    router = ShardRouter.for_actors([shard])
    try:
        await router.submit(0, Receive("c", 7, 1, 1))
    finally:
        await router.close()
    assert [len(args) for args in shard.calls] == [1]


async def test_the_web_port_makes_a_server_span_per_request_under_the_callers_traceparent(
        spans: InMemorySpanExporter, tmp_path: Path) -> None:
    from tests.unit.test_readiness import FakeRuntime
    from web import app as web_app

    app = web_app.create_app(FakeRuntime(tmp_path, {"shards": "ok"}))
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answer = await client.get("/readyz", headers={"traceparent": parent})
    assert answer.status_code == 200
    (server,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.SERVER]
    assert server.name == "GET /readyz" and len(spans.get_finished_spans()) == 1  # no per-chunk spans
    assert (f"{server.context.trace_id:032x}", f"{server.parent.span_id:016x}") == \
           ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")


def test_a_log_line_inside_a_span_carries_its_trace_id(
        spans: InMemorySpanExporter, tmp_path: Path, restored_logging: None) -> None:  # noqa: F811
    configure("shard-0", "json", tmp_path, "shard-0.log", stderr=False)
    with tracing.span("shard.batch", [_request_context()]) as made:
        logging.getLogger("actors.shard").warning("inside the batch")
    logging.getLogger("actors.shard").warning("after it")
    lines = [json.loads(line) for line in (tmp_path / "shard-0.log").read_text().splitlines()]
    assert made is not None and lines[0]["trace_id"] == f"{made.get_span_context().trace_id:032x}"
    assert "trace_id" not in lines[1]


def _request_context() -> Any:
    with request_span("request"):
        return tracing.here()


def test_waiting_contexts_are_taken_once_and_bounded_per_key_and_in_keys() -> None:
    waiting = tracing.Waiting(keys=2, per_key=2)
    contexts = [_context(i) for i in range(1, 6)]
    for context in contexts[:3]:
        waiting.add("a", context)
    waiting.add("b", contexts[3])
    waiting.add("c", contexts[4])  # "a", the oldest key, goes
    waiting.add("c", None)
    assert waiting.take(["a", "b", "c"]) == [contexts[3], contexts[4]]
    assert waiting.take(["b", "c"]) == []


def _context(i: int) -> Any:
    from opentelemetry.trace import SpanContext, TraceFlags

    return SpanContext(trace_id=i, span_id=i, is_remote=True, trace_flags=TraceFlags(1))
