"""Traces of the web process (actors/tracing.py has the how and the why): set up at start when
OTEL_EXPORTER_OTLP_ENDPOINT is set, flushed at the stop. The request spans: web/request_spans.py (the
web port) and web/ingress_traces.py (the ingress)."""

from __future__ import annotations

from actors.tracing import Carrier, carrier, enabled, server_span, start, stop

__all__ = ["Carrier", "carrier", "enabled", "server_span", "start", "stop"]
