"""Bearer-token auth for the REST API, as plain ASGI middleware (cheap on the hot path)."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

PUBLIC = ("/api/v1/openapi.json",)


class BearerAuth:
    def __init__(self, app: ASGIApp, token: Callable[[], str]):
        self.app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/") or path in PUBLIC:
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, given = header.partition(" ")
        expected = self._token()
        # Compared as bytes: compare_digest refuses non-ASCII text, and a header may carry any byte.
        if scheme.lower() == "bearer" and expected and hmac.compare_digest(
                given.strip().encode("latin-1"), expected.encode()):
            await self.app(scope, receive, send)
            return
        message = "Authorization: a valid 'Bearer <token>' header is required"
        if header:
            message = "Authorization: the bearer token is not valid"
        body = json.dumps({"error": {"code": "unauthorized", "message": message}}).encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b'Bearer realm="threadcount"'),
        ]})
        await send({"type": "http.response.body", "body": body})
