"""GET /stream: the dashboard's server-sent events. Each live event becomes named SSE events
(`stock-<variant_id>` carries the variant's grid row, rendered by the same macro as the page), with
the feed's sequence number as the event id, so a reconnecting browser resumes where it left off
(Last-Event-ID, or `last_id` in the query when htmx opens a fresh EventSource)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.events import Dropped, LiveEvent
from service.metrics import SSE_CLIENTS
from service.runtime import Runtime
from store.stock_grid import VariantInfo, variant_info
from web.dashboard.session import environment, require_user, session_stands
from web.dashboard.stock_rows import row_from_event
from web.http import app_state, runtime

PING_SECONDS = 10
SEND_TIMEOUT = 10  # seconds: a browser that stops reading is cut off, not waited for
RECHECK_SECONDS = 5  # an open stream ends within this long of its session's end
Rendered = list[tuple[str, str]]  # (event name, data)
Renderer = Callable[[Request, LiveEvent], Awaitable[Rendered]]
_renderers: dict[str, Renderer] = {}


def register(topic: str, renderer: Renderer) -> None:
    """A page module says how its topic's events are sent; unregistered topics go as JSON."""
    _renderers[topic] = renderer


class VariantInfoCache:
    """Names and reorder points of variants, which stock events do not carry; a `variant` event
    (published when a reorder point changes) replaces the entry."""

    def __init__(self, size: int = 5_000):
        self._found: OrderedDict[int, VariantInfo] = OrderedDict()
        self._size = size

    async def get(self, rt: Runtime, variant_id: int) -> VariantInfo | None:
        info = self._found.get(variant_id)
        if info is None:
            info = await variant_info(rt.read_engine, variant_id)
            if info is not None:
                self.put(info)
        return info

    def put(self, info: VariantInfo) -> None:
        self._found[info.variant_id] = info
        self._found.move_to_end(info.variant_id)
        while len(self._found) > self._size:
            self._found.popitem(last=False)

    def forget(self, variant_id: int) -> None:
        self._found.pop(variant_id, None)


def variant_cache(request: Request) -> VariantInfoCache:
    return app_state(request, "variant_cache", VariantInfoCache)


async def render_stock(request: Request, live: LiveEvent) -> Rendered:
    rt: Runtime = request.app.state.runtime  # not web.http.runtime: a stream outlives "ready" at shutdown
    info = await variant_cache(request).get(rt, live.data["variant_id"])
    if info is None:
        return []
    macros = environment(request).get_template("stock_rows.html").module
    codes = [location.code for location in rt.catalog.locations()]
    row = row_from_event(info, live.data, rt.catalog.location_code)
    html = str(macros.stock_row(row, codes))  # type: ignore[attr-defined]
    return [(f"stock-{info.variant_id}", html)]


async def render_variant(request: Request, live: LiveEvent) -> Rendered:
    """A variant's details changed (its reorder point): read them again; the event carries the
    variant's stock as stock events do (service.events.stock_data), so the row is rendered alike."""
    variant_cache(request).forget(int(live.data["variant_id"]))
    return await render_stock(request, live)


async def render_json(_request: Request, live: LiveEvent) -> Rendered:
    return [(live.topic, json.dumps(live.data, default=str))]


register("stock", render_stock)
register("variant", render_variant)


def _last_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_id") or ""
    return int(raw) if raw.isdigit() else None


async def _live(request: Request, topics: set[str] | None) -> AsyncIterator[ServerSentEvent]:
    rt = runtime(request)
    closing: asyncio.Event = request.app.state.closing
    subscription = rt.events.subscribe(_last_id(request))
    if not isinstance(subscription, AsyncGenerator):
        raise TypeError("EventFeed.subscribe must be an async generator")
    closed = asyncio.ensure_future(closing.wait())
    following: asyncio.Future[LiveEvent] | None = None
    checked = time.monotonic()
    SSE_CLIENTS.inc()
    try:
        while True:
            if following is None:
                following = asyncio.ensure_future(anext(subscription))
            waiting: set[asyncio.Future[Any]] = {following, closed}
            done, _ = await asyncio.wait(waiting, timeout=RECHECK_SECONDS,
                                         return_when=asyncio.FIRST_COMPLETED)
            if closed in done:  # the server is stopping: end the stream, browsers come back
                return
            if time.monotonic() - checked >= RECHECK_SECONDS:
                checked = time.monotonic()
                if not await session_stands(request):  # logged out, disabled, password changed
                    return
            if following not in done:
                continue
            live, following = following.result(), None
            if topics is not None and live.topic not in topics:
                continue
            for name, data in await _renderers.get(live.topic, render_json)(request, live):
                yield ServerSentEvent(data=data, event=name, id=str(live.seq))
    except (Dropped, StopAsyncIteration):
        return  # fell behind or the feed stopped: the browser reconnects with its Last-Event-ID
    finally:
        SSE_CLIENTS.dec()
        closed.cancel()
        if following is not None:
            following.cancel()
        with contextlib.suppress(Exception):
            await subscription.aclose()


@require_user
async def stream(request: Request) -> Response:
    raw = request.query_params.get("topics", "")
    topics = {topic.strip() for topic in raw.split(",") if topic.strip()} or None
    if topics is not None and "stock" in topics:
        topics.add("variant")
    return EventSourceResponse(_live(request, topics), ping=PING_SECONDS, send_timeout=SEND_TIMEOUT,
                               headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


routes = [Route("/stream", stream, methods=["GET"])]
