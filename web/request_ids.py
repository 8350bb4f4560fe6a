"""A request id for every HTTP request to the web port and the webhook ingress: the caller's
`X-Request-Id` when it is a plain token (1-128 of letters, digits and `._:-`), else a new one; with a
W3C `traceparent`, its trace id too. Both are carried in contextvars, so every log line of the
request names them, and the request id goes back in the answer's `X-Request-Id`."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.logs import request_id, trace_id

HEADER = b"x-request-id"
GIVEN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TRACEPARENT = re.compile(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}")


def chosen_id(given: bytes | None) -> str:
    text = given.decode("latin-1") if given else ""
    return text if GIVEN.fullmatch(text) else uuid.uuid4().hex


def trace_of(traceparent: bytes | None) -> str | None:
    found = TRACEPARENT.fullmatch(traceparent.decode("latin-1").strip()) if traceparent else None
    return found.group(1) if found and found.group(1) != "0" * 32 else None


@web.middleware
async def ingress_request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The same for the webhook ingress (aiohttp)."""
    rid = chosen_id(request.headers.get("X-Request-Id", "").encode("latin-1", "replace"))
    request_token = request_id.set(rid)
    trace_token = trace_id.set(trace_of(request.headers.get("traceparent", "").encode("latin-1", "replace")))
    try:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers["X-Request-Id"] = rid
            raise
        response.headers["X-Request-Id"] = rid
        return response
    finally:
        request_id.reset(request_token)
        trace_id.reset(trace_token)


class RequestIds:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        rid = chosen_id(headers.get(HEADER))
        request_token = request_id.set(rid)
        trace_token = trace_id.set(trace_of(headers.get(b"traceparent")))

        async def with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (HEADER, rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, with_id)
        finally:
            request_id.reset(request_token)
            trace_id.reset(trace_token)
