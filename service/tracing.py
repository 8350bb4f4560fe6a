"""Traces of the web process (actors/tracing.py has the how and the why): set up at start when
OTEL_EXPORTER_OTLP_ENDPOINT is set, flushed at the stop; the web port's and the ingress's request
spans come from OpenTelemetry's own ASGI and aiohttp-server middleware."""

from __future__ import annotations

from typing import Any

from actors.tracing import Carrier, carrier, enabled, provider, start, stop

__all__ = ["Carrier", "asgi_middleware", "carrier", "enabled", "ingress_middleware", "start", "stop"]


def asgi_middleware() -> list[tuple[Any, dict[str, Any]]]:
    """(class, options) of the web app's outermost middleware while traces are on, else nothing.
    Only the request's span: one span per body chunk sent ("send") costs more than it tells."""
    if not enabled():
        return []
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return [(OpenTelemetryMiddleware, {"tracer_provider": provider(), "exclude_spans": ["receive", "send"]})]


def ingress_middleware() -> list[Any]:
    """The ingress's (aiohttp) request span while traces are on, else nothing."""
    if not enabled():
        return []
    from opentelemetry.instrumentation.aiohttp_server import create_aiohttp_middleware

    return [create_aiohttp_middleware(tracer_provider=provider())]
