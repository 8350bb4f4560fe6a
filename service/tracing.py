"""Traces of the web process (actors/tracing.py has the how and the why): set up at start when
OTEL_EXPORTER_OTLP_ENDPOINT is set, flushed at the stop. The web port's request spans come from
OpenTelemetry's own ASGI middleware; the ingress's from web/ingress_traces.py."""

from __future__ import annotations

from typing import Any

from actors.tracing import Carrier, carrier, enabled, provider, server_span, start, stop

__all__ = ["Carrier", "asgi_middleware", "carrier", "enabled", "server_span", "start", "stop"]


def asgi_middleware() -> list[tuple[Any, dict[str, Any]]]:
    """(class, options) of the web app's outermost middleware while traces are on, else nothing.
    Only the request's span: one span per body chunk sent ("send") costs more than it tells."""
    if not enabled():
        return []
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return [(OpenTelemetryMiddleware, {"tracer_provider": provider(), "exclude_spans": ["receive", "send"]})]
