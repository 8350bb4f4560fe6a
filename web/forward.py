"""Web workers' split of the routes: what a worker answers itself, and the hop that takes every other
request to the first (primary) process over a Unix socket.

A worker answers the order and stock API, the dashboard's live stream, the static files and
/healthz: work that needs only the shards, the store and the event hub, each correct from any
process (service/web_workers.py says why). Everything else (logins, whose failures are counted in
the primary; partners, alerts, holds, accounts, the catalog, pages, /metrics, /readyz) goes to the
primary, so what only one process may do is still done by one.

The hop: a Unix socket in a folder only this user can open, so a request that arrives on it is
believed about where it came from: the worker puts the caller's address and scheme (as the worker's
own server saw them, after its X-Forwarded-For rules) in `x-threadcount-client` and
`x-threadcount-scheme`, which the primary reads on that socket only (`FromWorkers`) and drops on
its TCP port. Bodies go both ways as they come, nothing buffered; if the primary cannot be reached
the caller gets a 503 that is safe to retry (nothing reached the primary)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import aiohttp
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.slow_clients import KEEP_ALIVE_S

log = logging.getLogger(__name__)

CLIENT_HEADER = b"x-threadcount-client"
SCHEME_HEADER = b"x-threadcount-scheme"
WORKER_HEADER = b"x-threadcount-worker"
# RFC 9110 7.6.1: the connection's own headers, which a proxy does not pass on
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te",
                        b"trailer", b"transfer-encoding", b"upgrade", b"proxy-connection"})
SKIP_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Content-Type")  # the caller's own, or none
LOCAL_PREFIXES = ("/api/v1/orders", "/api/v1/stock/", "/api/v1/ledger", "/static/")
LOCAL_PATHS = frozenset({"/stream", "/healthz"})
OWN_HEADERS = frozenset({b"date", b"server"})  # the worker's server adds its own


def served_by_worker(path: str) -> bool:
    """Whether a web worker answers `path` itself (else the primary does)."""
    return (path in LOCAL_PATHS or path.startswith(LOCAL_PREFIXES)
            or (path.startswith("/api/v1/variants/") and path.endswith("/stock")))


def _ours(name: bytes) -> bool:
    return name.lower().startswith(b"x-threadcount-")


def _without_ours(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """`headers` less every `x-threadcount-*` one, in their order."""
    return [(k, v) for k, v in headers if not _ours(k)]


IDLE_S = KEEP_ALIVE_S / 2  # seconds an idle connection to the primary is kept for reuse


class ForwardToPrimary:
    """An ASGI app that sends each HTTP request to the primary's Unix socket and streams the answer
    back. One connection pool for the worker's life (`close` at its end)."""

    def __init__(self, socket_path: str):
        self._path = socket_path
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                # an idle connection is let go well before the primary's end closes it (KEEP_ALIVE_S):
                # a request sent on one as it closed would get no answer
                connector=aiohttp.UnixConnector(path=self._path, limit=0, keepalive_timeout=IDLE_S),
                # a page or a CSV import may take long; the caller's own timeouts bound the rest
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
                auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # no websockets here; lifespan is off
            return
        client = scope.get("client") or ("", 0)
        headers = [(name.decode("latin-1"), value.decode("latin-1"))
                   for name, value in _without_ours(scope["headers"]) if name.lower() not in HOP_BY_HOP]
        headers += [(CLIENT_HEADER.decode(), f"{client[0]}:{client[1]}"),
                    (SCHEME_HEADER.decode(), scope.get("scheme", "http"))]
        query = scope.get("query_string", b"")
        target = scope.get("raw_path") or scope["path"].encode()
        url = "http://primary" + target.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        has_body = any((name == b"content-length" and value.strip() not in (b"", b"0"))
                       or name == b"transfer-encoding" for name, value in scope["headers"])
        try:
            async with self._client().request(
                    scope["method"], url, headers=headers, data=_body(receive) if has_body else None,
                    allow_redirects=False, skip_auto_headers=SKIP_AUTO_HEADERS,
            ) as answer:
                back = [(k, v) for k, v in answer.raw_headers
                        if k.lower() not in HOP_BY_HOP and k.lower() not in OWN_HEADERS]
                await send({"type": "http.response.start", "status": answer.status, "headers": back})
                async for chunk in answer.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            log.warning("the primary web process did not answer %s %s: %s", scope["method"], scope["path"],
                        exc)
            await _unavailable(send)


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _unavailable(send: Send) -> None:
    body = json.dumps({"error": {"code": "unavailable", "message": "the service's first web process did not "
                                 "answer; retrying the same request is safe"}}).encode()
    try:
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"1"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
    except Exception:  # the answer had begun: the connection just ends  # nosec B110
        pass


class WorkerApp:
    """A worker's whole app: its own routes to `local`, the rest to the primary. Every answer says
    which process gave it (`x-threadcount-worker`: 0 is the primary)."""

    def __init__(self, local: ASGIApp, forward: ForwardToPrimary, index: int):
        self._local, self._forward = local, forward
        self._tag = str(index).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._local(scope, receive, send)
            return
        if served_by_worker(scope["path"]):
            await self._local(scope, receive, tagged(send, self._tag))
        else:
            await self._forward(scope, receive, send)


def tagged(send: Send, tag: bytes) -> Send:
    async def send_tagged(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (WORKER_HEADER, tag)]}
        await send(message)
    return send_tagged


class Tagged:
    """The primary's app on its TCP port when there are workers: answers say `x-threadcount-worker: 0`,
    and `x-threadcount-*` headers a caller sent are dropped (only the workers' hop may set them)."""

    def __init__(self, app: ASGIApp):
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        scope = {**scope, "headers": _without_ours(scope["headers"])}
        await self._app(scope, receive, tagged(send, b"0"))


class FromWorkers:
    """The primary's app on the workers' Unix socket: the caller's address and scheme come from the
    worker's headers (see the module's docstring); answers say `x-threadcount-worker: 0`."""

    def __init__(self, app: ASGIApp):
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        found = dict((k.lower(), v) for k, v in scope["headers"] if _ours(k))
        host, _, port = found.get(CLIENT_HEADER, b"").decode("latin-1").rpartition(":")
        scheme = found.get(SCHEME_HEADER, b"http").decode("latin-1")
        scope = {**scope, "headers": _without_ours(scope["headers"]),
                 "client": (host, int(port)) if port.isdigit() else None,
                 "scheme": scheme if scheme in ("http", "https") else "http"}
        await self._app(scope, receive, tagged(send, b"0"))
