"""The webhook ingress's request spans (aiohttp), while traces are on: one span per delivery, kind
server, named by the route (`POST /webhooks/{partner_id}`), continuing the partner's `traceparent`
when it sends one, with the status answered. OpenTelemetry's aiohttp-server instrumentation keeps
its tracer in module globals set only by patching aiohttp's Application class for the whole process;
this is the same span without that."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from opentelemetry.trace import Span, Status, StatusCode

from service import tracing

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def ingress_spans(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.resource
    template = route.canonical if route is not None else "unmatched"
    attributes = {"http.request.method": request.method, "http.route": template, "url.path": request.path,
                  "url.scheme": request.scheme}
    with tracing.server_span(f"{request.method} {template}", request.headers, attributes) as span:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            _answered(span, exc.status)
            raise
        _answered(span, response.status)
        return response


def _answered(span: Span | None, status: int) -> None:
    if span is not None:
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))


def ingress_middleware() -> list[Callable[..., Awaitable[web.StreamResponse]]]:
    """The ingress's span middleware while traces are on, else nothing."""
    return [ingress_spans] if tracing.enabled() else []
