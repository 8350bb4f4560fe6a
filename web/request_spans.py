"""The web port's request spans while traces are on (actors/tracing.py): one span per HTTP request,
kind server, named `METHOD /route/{template}` once the route is known, continuing the caller's W3C
`traceparent`, with the method, route, path and status. Pure ASGI and lean on purpose: OpenTelemetry's
ASGI instrumentation (a dozen attributes and its metrics per request) cost 340-370 µs of CPU a request
here, its export included; this costs about 165 µs, nearly all of it the SDK's span (80) and its OTLP
encoding (85)."""

from __future__ import annotations

from opentelemetry.trace import Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import tracing

CONTEXT_HEADERS = (b"traceparent", b"tracestate")


class RequestSpans:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing.enabled():
            await self.app(scope, receive, send)
            return
        given = {k.decode("latin-1"): v.decode("latin-1")
                 for k, v in scope["headers"] if k in CONTEXT_HEADERS}
        method = scope["method"]
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        with tracing.server_span(method, given, {"http.request.method": method,
                                                 "url.path": scope["path"]}) as span:
            try:
                await self.app(scope, receive, sending)
            finally:
                if span is not None:
                    template = getattr(scope.get("route"), "path", None)
                    if template is not None:
                        span.update_name(f"{method} {template}")
                        span.set_attribute("http.route", template)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
