"""OpenTelemetry traces for every Threadcount process: the web process and each Ray actor (each is a
process of its own, so each sets up its own tracer provider, in its __init__).

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; then spans go
there over OTLP/HTTP in batches, as the standard OTEL_* variables say (OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and _ARG, OTEL_BSP_*, OTEL_EXPORTER_OTLP_HEADERS, ...).
While off every helper here returns at its first line: no span is made, no context is captured or
carried, and nothing is added to what crosses between processes.

Context crosses Ray calls as W3C trace context (`traceparent`, `tracestate`) that we carry ourselves,
beside a shard batch, in a StockChanged event and with a webhook delivery. Fan-in: a span that serves
many traced callers (a shard call carrying commands of many requests, a group commit of several
batches, a partner push of changes from several commits) is the child of the first of them and links
to the others (at most MAX_LINKS). One with no traced caller is not made at all, so sampling a
request out also spares everything downstream of it."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["Carrier", "SpanContext", "SpanKind", "carrier", "enabled", "here", "remote", "span", "start",
           "stop"]

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
SERVICE_NAME = "threadcount"
MAX_LINKS = 128  # the SDK's default limit of links per span
Carrier = dict[str, str]

_provider: TracerProvider | None = None
_tracer: trace.Tracer | None = None
_w3c = TraceContextTextMapPropagator()
_NO_SPAN: AbstractContextManager[None] = nullcontext()


def wanted(env: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for traces: an OTLP endpoint, and the SDK not disabled."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(env.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def start(process: str, env: Mapping[str, str] | None = None) -> bool:
    """Set up this process's tracer provider when the environment asks for traces (once); True when
    tracing is on. `process` names the process in the resource (`threadcount.process`)."""
    if _tracer is not None:
        return True
    env = os.environ if env is None else env
    if not wanted(env):
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes: dict[str, Any] = {"threadcount.process": process}
    if not env.get("OTEL_SERVICE_NAME", "").strip():
        attributes["service.name"] = SERVICE_NAME
    provider = TracerProvider(resource=Resource.create(attributes))  # the sampler: OTEL_TRACES_SAMPLER
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use(provider)
    return True


def use(provider: TracerProvider | None) -> None:
    """Trace through this provider (tests give one with an in-memory exporter); None: tracing off."""
    global _provider, _tracer
    _provider = provider
    _tracer = provider.get_tracer("threadcount") if provider is not None else None


def provider() -> TracerProvider | None:
    return _provider


def enabled() -> bool:
    return _tracer is not None


def stop() -> None:
    """Export what is still buffered and stop (before the process exits)."""
    if _provider is not None:
        _provider.shutdown()
    use(None)


def flush(timeout: float = 2.0) -> None:
    """Export what is buffered now (an actor's stop: Ray ends the process without atexit hooks).
    Blocks up to `timeout` seconds: call it in a thread from an event loop."""
    if _provider is not None:
        _provider.force_flush(int(timeout * 1000))


def here() -> SpanContext | None:
    """The current span's context when tracing is on and the span is sampled, else None."""
    if _tracer is None:
        return None
    context = trace.get_current_span().get_span_context()
    return context if context.is_valid and context.trace_flags.sampled else None


def carrier(context: SpanContext | None = None) -> Carrier | None:
    """W3C trace context of `context` (default: the current span) to send to another process."""
    if _tracer is None:
        return None
    context = context or here()
    if context is None:
        return None
    headers: Carrier = {}
    _w3c.inject(headers, trace.set_span_in_context(NonRecordingSpan(context)))
    return headers


def remote(headers: Mapping[str, str] | None) -> SpanContext | None:
    """The span context another process sent (see `carrier`), or None."""
    if _tracer is None or not headers:
        return None
    context = trace.get_current_span(_w3c.extract(headers)).get_span_context()
    return context if context.is_valid else None


def trace_id() -> str | None:
    """The current span's trace id (32 hex digits), for log lines; None while off or outside a span."""
    if _tracer is None:
        return None
    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def server_span(name: str, headers: Mapping[str, str], attributes: Mapping[str, Any] | None = None
                ) -> AbstractContextManager[Span | None]:
    """A request's span (kind server), continuing the caller's `traceparent` if it sent one; no span
    while tracing is off."""
    if _tracer is None:
        return _NO_SPAN
    return _tracer.start_as_current_span(name, _w3c.extract(headers), kind=SpanKind.SERVER,
                                         attributes=attributes)


def detached() -> AbstractContextManager[object]:
    """No current span inside: for starting long-lived tasks from a call that may be traced (they
    copy the current context, and would otherwise log under that call's trace for ever)."""
    if _tracer is None:
        return _NO_SPAN
    return trace.use_span(trace.INVALID_SPAN)


def span(name: str, parents: Iterable[SpanContext | None], kind: SpanKind = SpanKind.INTERNAL,
         attributes: Mapping[str, Any] | None = None) -> AbstractContextManager[Span | None]:
    """A current span that is the child of the first traced parent and links to the rest; no span
    (None) while tracing is off or when no parent is traced."""
    if _tracer is None:
        return _NO_SPAN
    first: SpanContext | None = None
    links: list[Link] = []
    seen: set[tuple[int, int]] = set()
    for parent in parents:
        if parent is None or (parent.trace_id, parent.span_id) in seen:
            continue
        seen.add((parent.trace_id, parent.span_id))
        if first is None:
            first = parent
        elif len(links) < MAX_LINKS:
            links.append(Link(parent))
    if first is None:
        return _NO_SPAN
    return _tracer.start_as_current_span(name, trace.set_span_in_context(NonRecordingSpan(first)),
                                         kind=kind, attributes=attributes, links=links)


class Waiting:
    """Trace contexts waiting, per key, for the span of what they cause (a partner's push of a
    listing, after the stock changes of several commits): the newest `per_key` of the newest `keys`
    keys, so a key whose change never leads to anything holds little, and not for ever."""

    def __init__(self, keys: int = 10_000, per_key: int = 8):
        self._keys, self._per_key = keys, per_key
        self._waiting: OrderedDict[object, list[SpanContext]] = OrderedDict()

    def add(self, key: object, context: SpanContext | None) -> None:
        if context is None:
            return
        contexts = self._waiting.pop(key, [])
        contexts.append(context)
        self._waiting[key] = contexts[-self._per_key:]
        if len(self._waiting) > self._keys:
            self._waiting.popitem(last=False)

    def take(self, keys: Iterable[object]) -> list[SpanContext]:
        return [context for key in keys for context in self._waiting.pop(key, [])]
