"""GET /metrics: the whole service's Prometheus figures in one scrape (service/metrics.py gathers
the actors'), for any valid bearer token (role viewer). And RequestTimer, the middleware timing
every HTTP request of this process by its route template."""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import CONTENT_TYPE, HTTP_SECONDS, alerts_open_family, scrape
from store.alerts import open_counts

log = logging.getLogger(__name__)
UNTIMED = frozenset({"/stream"})  # an event stream lasts as long as the browser stays
# every other method (the HTTP parser takes some forty, WebDAV's among them) is labelled "other"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


async def metrics(request: Request) -> Response:
    rt = request.app.state.runtime
    own = []
    try:
        own.append(alerts_open_family(await open_counts(rt.read_engine)))
    except Exception as exc:  # the store not open yet, or not answering: the rest still answers
        log.warning("metrics: open alerts not counted: %s", exc)
    workers = getattr(request.app.state, "worker_sources", [])  # web/worker_metrics.py
    body = await scrape([*rt.metric_sources(), *workers], own)
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


class RequestTimer:
    """Pure ASGI (cheap): one histogram observation per request, labelled by method, the route's
    path template (`unmatched` when no route took it, e.g. a refused token) and status. Every label
    comes from a fixed set, so no request can add series: the method is one of METHODS or `other`."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            template = getattr(scope.get("route"), "path", "unmatched")
            if template not in UNTIMED:
                seconds = time.perf_counter() - began
                method = scope["method"] if scope["method"] in METHODS else "other"
                HTTP_SECONDS.labels(method, template, str(status)).observe(seconds)


routes = [Route("/metrics", metrics, methods=["GET"])]
