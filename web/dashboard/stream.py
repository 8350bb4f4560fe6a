"""GET /stream: the dashboard's server-sent events. Each live event becomes named SSE events
(`stock-<variant_id>` carries the variant's grid row, rendered by the same macro as the page), with
the feed's sequence number as the event id, so a reconnecting browser resumes where it left off
(Last-Event-ID, or `last_id` in the query when htmx opens a fresh EventSource). An event is rendered
once for all streams and its bytes fanned out (web/dashboard/fanout.py: coalescing, slow streams),
compressed once for every stream whose browser offers deflate (web/dashboard/deflate.py). With web
workers only the primary renders: a worker's streams get its frames (web/dashboard/frames.py)."""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from jinja2 import Environment
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.events import LiveEvent
from service.metrics import SSE_CLIENTS
from service.runtime import Runtime
from store.stock_grid import VariantInfo, variant_info, variant_infos
from web.dashboard.deflate import accepts_deflate
from web.dashboard.fanout import Fanout, Streams
from web.dashboard.frames import RelayedStreams
from web.dashboard.row_skeletons import Macro, RowSkeletons
from web.dashboard.session import accounts_of, require_user, session_key
from web.dashboard.session_watch import SessionWatch
from web.dashboard.stock_rows import row_from_event
from web.http import runtime

PING_SECONDS = 10  # a quiet stream sends a comment this often
NO_PINGS = 365 * 24 * 3600  # sse-starlette's own ping interval: never
SEND_TIMEOUT = 10  # seconds: a browser that stops reading is cut off, not waited for
# an open stream ends within this long of its session's end: a check of every stream's session each
# CHECK_EVERY seconds, read by each stream when it wakes (at least every 2 x NUDGE_SECONDS)
RECHECK_SECONDS = 5
# the template's line breaks and indents between tags: each line would cost the stream a `data: ` line
BETWEEN_TAGS = re.compile(r">[ \t]*\r?\n\s*<")
Rendered = list[tuple[str, str]]  # (event name, data)
Renderer = Callable[[Starlette, LiveEvent], Awaitable[Rendered]]
T = TypeVar("T")
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

    async def load(self, rt: Runtime, variant_ids: set[int]) -> None:
        """Those not held yet, in one query (a flush renders up to every variant at once)."""
        missing = [variant_id for variant_id in variant_ids if variant_id not in self._found]
        if missing:
            for info in (await variant_infos(rt.read_engine, missing)).values():
                self.put(info)

    def put(self, info: VariantInfo) -> None:
        self._found[info.variant_id] = info
        self._found.move_to_end(info.variant_id)
        while len(self._found) > self._size:
            self._found.popitem(last=False)

    def forget(self, variant_id: int) -> None:
        self._found.pop(variant_id, None)


def _kept(app: Starlette, name: str, make: Callable[[], T]) -> T:
    """What the app keeps for every stream under `name`, made at first use."""
    if not hasattr(app.state, name):
        setattr(app.state, name, make())
    found: T = getattr(app.state, name)
    return found


def variant_cache(app: Starlette) -> VariantInfoCache:
    return _kept(app, "variant_cache", VariantInfoCache)


async def render_stock(app: Starlette, live: LiveEvent) -> Rendered:
    rt: Runtime = app.state.runtime  # not web.http.runtime: a stream outlives "ready" at shutdown
    info = await variant_cache(app).get(rt, live.data["variant_id"])
    if info is None:
        return []
    templates: Environment = app.state.templates
    codes = [location.code for location in rt.catalog.locations()]
    row = row_from_event(info, live.data, rt.catalog.location_code)
    html = row_skeletons(app).render(partial(_row_macro, templates), row, codes, compact)
    return [(f"stock-{info.variant_id}", html)]


def _row_macro(templates: Environment) -> Macro:
    """The page's own row macro (web/templates/stock_rows.html)."""
    macro: Macro = templates.get_template("stock_rows.html").module.stock_row  # type: ignore[attr-defined]
    return macro


def row_skeletons(app: Starlette) -> RowSkeletons:
    return _kept(app, "row_skeletons", RowSkeletons)


def compact(html: str) -> str:
    """The row on one line where the template broke it between tags (the same elements and text: the
    whitespace between a row's cells is no part of the table): 15 `data:` lines and indents less."""
    return BETWEEN_TAGS.sub("><", html).strip()


async def render_variant(app: Starlette, live: LiveEvent) -> Rendered:
    """A variant's details changed (its reorder point): `prepare` read them again; the event carries
    the variant's stock as stock events do (service.events.stock_data), so the row is rendered alike."""
    return await render_stock(app, live)


async def prepare(app: Starlette, batch: list[LiveEvent]) -> None:
    """Before a flush renders: the details of its variants the cache lacks, in one query rather than
    one each (at the first flush under load, every variant: 200 reads in turn took seconds)."""
    cache = variant_cache(app)
    rows = [live for live in batch if live.topic in ("stock", "variant")]
    for live in rows:
        if live.topic == "variant":
            cache.forget(int(live.data["variant_id"]))
    await cache.load(app.state.runtime, {int(live.data["variant_id"]) for live in rows})


async def render_json(_app: Starlette, live: LiveEvent) -> Rendered:
    return [(live.topic, json.dumps(live.data, default=str))]


register("stock", render_stock)
register("variant", render_variant)


async def encode(app: Starlette, live: LiveEvent) -> bytes:
    """The event as every stream sends it: its SSE bytes (sse-starlette passes bytes through)."""
    rendered = await _renderers.get(live.topic, render_json)(app, live)
    return b"".join(ServerSentEvent(data=data, event=name, id=str(live.seq)).encode()
                    for name, data in rendered)


def fanout(app: Starlette) -> Fanout:
    """The process's rendering fan-out (the primary's, with web workers)."""
    rt: Runtime = app.state.runtime
    return _kept(app, "fanout", lambda: Fanout(rt.events.subscribe, partial(encode, app),
                                             prepare=partial(prepare, app)))


def streams_of(app: Starlette) -> Streams:
    """Where this process's streams get their frames: its own fan-out, or in a web worker the
    primary's (`app.state.frames_from`, web/dashboard/frames.py), so each event is rendered once
    whatever the number of processes."""
    relayed: Path | None = getattr(app.state, "frames_from", None)
    if relayed is None:
        return fanout(app)
    return _kept(app, "fanout", lambda: RelayedStreams(relayed))


def session_watch(request: Request) -> SessionWatch:
    """The process's check of its open streams' sessions (web/dashboard/session_watch.py)."""
    accounts = accounts_of(request)
    return _kept(request.app, "session_watch", lambda: SessionWatch(accounts.sessions_standing))


def end_streams(app: Starlette) -> None:
    """At shutdown: end every open stream (the browsers reconnect to the next server)."""
    found = getattr(app.state, "fanout", None)
    if isinstance(found, Streams):
        found.close()
    watch = getattr(app.state, "session_watch", None)
    if isinstance(watch, SessionWatch):
        watch.close()


def _last_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_id") or ""
    return int(raw) if raw.isdigit() else None


async def _live(request: Request, topics: frozenset[str] | None, deflate: bool) -> AsyncIterator[bytes]:
    """The stream's bytes: chunks as they come, a ping after PING_SECONDS without one, and the end of
    the compressed stream when it ends (the browser's going away is no end: nothing more is sent)."""
    runtime(request)
    if request.app.state.closing.is_set():
        return
    streams = streams_of(request.app)
    subscriber = streams.join(topics, _last_id(request), deflate)
    watch, session = session_watch(request), session_key(request)
    watch.hold(session)
    sent = time.monotonic()
    SSE_CLIENTS.inc()
    try:
        while (chunk := await subscriber.next()) is not None:  # None: dropped, or the server stops
            # woken at least every 2 x NUDGE_SECONDS: ended within RECHECK_SECONDS of its session
            if watch.ended(session):  # logged out, expired, disabled, password changed
                break
            now = time.monotonic()
            if not chunk and now - sent >= PING_SECONDS:
                chunk = subscriber.ping()
            if chunk:
                sent = now
                yield chunk
        if last := subscriber.finish():
            yield last
    finally:
        SSE_CLIENTS.dec()
        watch.release(session)
        streams.leave(subscriber)


@require_user
async def stream(request: Request) -> Response:
    raw = request.query_params.get("topics", "")
    topics = {topic.strip() for topic in raw.split(",") if topic.strip()}
    if "stock" in topics:
        topics.add("variant")
    deflate = accepts_deflate(request.headers.get("accept-encoding", ""))
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Vary": "Accept-Encoding",
               **({"Content-Encoding": "deflate"} if deflate else {})}
    # the pings are _live's, in the stream's encoding: sse-starlette's own would go uncompressed
    return EventSourceResponse(_live(request, frozenset(topics) or None, deflate), ping=NO_PINGS,
                               send_timeout=SEND_TIMEOUT, headers=headers)


routes = [Route("/stream", stream, methods=["GET"])]
