"""OTLP/HTTP trace receivers, standing in for a collector (or Datadog's or New Relic's intake): one that
decodes every ExportTraceServiceRequest into the spans the tests read, and one that accepts and
discards (or keeps), in a thread of its own, for the benchmark's traced run and the e2e tests. And, for what one process does,
tracing into OpenTelemetry's in-memory exporter."""

from __future__ import annotations

import asyncio
import gzip
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiohttp import web

PATH = "/v1/traces"


@contextmanager
def in_memory_spans() -> Iterator[Any]:
    """Threadcount's tracing on in this process, into an InMemorySpanExporter (yielded); off after."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from actors import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)


@dataclass(frozen=True)
class Received:
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str
    process: str  # the resource's threadcount.process: web, shard-0, partner-<id>
    attributes: dict[str, Any]
    links: tuple[tuple[str, str], ...] = field(default=())


class OtlpReceiver:
    """`async with OtlpReceiver() as receiver:` then point OTEL_EXPORTER_OTLP_ENDPOINT at `receiver.url`."""

    def __init__(self) -> None:
        self.spans: list[Received] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> OtlpReceiver:
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post(PATH, self._export)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _export(self, request: web.Request) -> web.Response:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

        body = await request.read()
        self.spans.extend(decoded(gzip.decompress(body) if request.headers.get("Content-Encoding") == "gzip"
                                  else body))
        return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                            content_type="application/x-protobuf")

    async def wait_for(self, found: Callable[[list[Received]], bool], timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while not found(self.spans):
            if time.monotonic() > deadline:
                names = sorted({(s.process, s.name) for s in self.spans})
                raise AssertionError(f"not received within {timeout:g} s; received: {names}")
            await asyncio.sleep(0.05)
        return list(self.spans)


def decoded(body: bytes) -> list[Received]:
    """The spans of one ExportTraceServiceRequest (protobuf)."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    export = ExportTraceServiceRequest()
    export.ParseFromString(body)
    found = []
    for resource_spans in export.resource_spans:
        resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            found.extend(_received(span, resource.get("threadcount.process", "")) for span in scope_spans.spans)
    return found


def _received(span: Any, process: str) -> Received:
    return Received(
        name=span.name, kind=span.kind, trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex(), process=process,
        attributes={a.key: _value(a.value) for a in span.attributes},
        links=tuple((link.trace_id.hex(), link.span_id.hex()) for link in span.links),
    )


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    return getattr(value, kind) if kind else None


class Collected:
    """What a threaded receiver got: the count of export requests and, when kept, the spans."""

    def __init__(self, keep: bool):
        self.keep, self.requests, self.url = keep, 0, ""
        self.spans: list[Received] = []
        self._lock = threading.Lock()

    def take(self, body: bytes, encoding: str | None) -> None:
        spans = decoded(gzip.decompress(body) if encoding == "gzip" else body) if self.keep else []
        with self._lock:
            self.requests += 1
            self.spans.extend(spans)

    def wait_for(self, found: Callable[[list[Received]], bool], timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while not found(list(self.spans)):
            if time.monotonic() > deadline:
                names = sorted({(s.process, s.name) for s in self.spans})
                raise AssertionError(f"not received within {timeout:g} s; received: {names}")
            time.sleep(0.05)
        return list(self.spans)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    collected: Collected

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.collected.take(body, self.headers.get("Content-Encoding"))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def threaded_receiver(keep: bool = False) -> Iterator[tuple[str, Collected]]:
    """(url, collected): an OTLP/HTTP endpoint in a thread of its own that answers every export 200,
    counts the exports and, with `keep`, decodes and keeps their spans (else discards them)."""
    collected = Collected(keep)
    handler = type("Receiver", (_Handler,), {"collected": collected})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    collected.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield collected.url, collected
    finally:
        server.shutdown()
        server.server_close()
