"""Request bodies are capped before anyone reads them: a declared Content-Length over the cap is
answered 413 at once, and a body that streams past it (chunked, or a lying header) is cut off with a
413 as soon as it does, so no route spools a 200 MB upload before looking at it. Plain ASGI."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.asgi_answers import send_error

SMALL = 64 * 1024                  # a dashboard form: a few short fields
JSON = 1024 * 1024                 # a REST body; an order of 100 lines is a few kilobytes
CSV_FILE = 5 * 1024 * 1024         # an uploaded CSV file
UPLOAD = CSV_FILE + 64 * 1024      # that file and its multipart framing


class TooLarge(Exception):
    pass


class BodyLimit:
    def __init__(self, app: ASGIApp, caps: Sequence[tuple[str, int]] = (("/bulk/", UPLOAD), ("/api/", JSON)),
                 default: int = SMALL):
        """`caps`: (path prefix, bytes), the first prefix that matches wins; other paths get `default`."""
        self.app, self._caps, self._default = app, tuple(caps), default

    def cap(self, path: str) -> int:
        return next((limit for prefix, limit in self._caps if path.startswith(prefix)), self._default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.cap(scope.get("path", ""))
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > cap:
            await _too_large(send, cap)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > cap:
                raise TooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except TooLarge:
            if not started:
                await _too_large(send, cap)


async def _too_large(send: Send, cap: int) -> None:
    await send_error(send, 413, "body_too_large", f"body: at most {cap} bytes")
