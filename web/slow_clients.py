"""Slow and vanishing clients on the web port. uvicorn's HTTP protocol has no timeout for a request's
headers (a client can trickle them for ever, holding a descriptor), so `guarded_protocol` closes a
connection whose request headers are not complete within the timeout of its start (or, on a
kept-alive connection, of the next request's first bytes). A kept-alive connection may idle
KEEP_ALIVE_S between requests: longer than HTTP clients keep an idle connection for reuse (httpx 5 s,
aiohttp 15 s), since a client that sends on a connection the server closes at that moment gets a
connection error instead of an answer. `SlowBodies` gives each read of a request body the same
timeout (a stalled body is answered 408) and turns a client gone mid-body into one INFO line, not a
traceback."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from web.asgi_answers import send_error

log = logging.getLogger(__name__)
CLIENT_TIMEOUT = 10.0  # seconds, the default of config.yaml's client_timeout_s
# Seconds a kept-alive connection may wait for its next request (nginx's default). It was uvicorn's
# 5 s, the same as httpx's idle expiry: a multi-node test's client sent on connections the server was
# closing, and got no answer.
KEEP_ALIVE_S = 75


def guarded_protocol(header_timeout: float) -> type[HttpToolsProtocol]:
    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self._headers_too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                log.info("closed a connection from %s: its request headers took over %.0f s",
                         self.client, header_timeout)
                self.transport.close()

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            # the first bytes of a request on a kept-alive connection: its headers get the timeout
            if self._header_timer is None and (self.cycle is None or self.cycle.response_complete):
                self._arm()
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedHttpToolsProtocol


class BodyTooSlow(Exception):
    pass


class SlowBodies:
    def __init__(self, app: ASGIApp, timeout: float = CLIENT_TIMEOUT):
        self.app, self._timeout = app, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:  # after the body, receive() waits for a disconnect (live streams): no timeout
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self._timeout)
            except TimeoutError:
                raise BodyTooSlow from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, watching_send)
        except BodyTooSlow:
            log.info("%s %s: the request body stalled for over %.0f s; answered 408",
                     scope.get("method"), scope.get("path"), self._timeout)
            if not started:
                await send_error(send, 408, "request_timeout",
                                 f"body: not received within {self._timeout:.0f} s")
        except (ClientDisconnect, ConnectionResetError) as exc:
            log.info("%s %s: the client went away mid-request (%s)", scope.get("method"), scope.get("path"),
                     type(exc).__name__)

