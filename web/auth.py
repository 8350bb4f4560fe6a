"""Bearer-token auth for the REST API, as plain ASGI middleware (cheap on the hot path).

The bearer is THREADCOUNT_ADMIN_TOKEN (an admin: actor `admin-token`, checked without the store)
or an API key (service/accounts.py: looked up by its hash, believed for at most a second). The
caller's Principal goes into the scope for the role check (web/roles.py) and the ledger's actor."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from service.accounts import looks_like_key
from service.principals import ADMIN_TOKEN, Principal
from web.asgi_answers import send_error

PUBLIC = ("/api/v1/openapi.json",)
# Outside /api/ but held to a bearer token too; without an Authorization header the request goes on
# to the route's guard, which takes a dashboard session instead (else 401, web/app.py `no_caller`).
GUARDED = ("/metrics",)
PRINCIPAL = "principal"  # the scope key the caller's Principal is kept under


class BearerAuth:
    def __init__(self, app: ASGIApp, token: Callable[[], str],
                 keys: Callable[[str], Awaitable[Principal | None]] | None = None,
                 ready: Callable[[], bool] = lambda: True):
        self.app = app
        self._token = token
        self._keys = keys
        self._ready = ready

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        guarded = path.startswith("/api/") or path in GUARDED
        if scope["type"] != "http" or not guarded or path in PUBLIC:
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        if not header and path in GUARDED:
            await self.app(scope, receive, send)
            return
        scheme, _, given = header.partition(" ")
        given = given.strip()
        expected = self._token()
        who: Principal | None = None
        # Compared as bytes: compare_digest refuses non-ASCII text, and a header may carry any byte.
        if scheme.lower() == "bearer" and expected and hmac.compare_digest(
                given.encode("latin-1"), expected.encode()):
            who = ADMIN_TOKEN
        elif scheme.lower() == "bearer" and self._keys is not None and looks_like_key(given):
            if not self._ready():
                await send_error(send, 503, "starting", "Threadcount is starting; try again in a moment",
                                 headers=())
                return
            who = await self._keys(given)
        if who is not None:
            scope[PRINCIPAL] = who
            await self.app(scope, receive, send)
            return
        message = "Authorization: a valid 'Bearer <token>' header is required"
        if header:
            message = "Authorization: the bearer token is not valid (or the key was revoked)"
        await send_error(send, 401, "unauthorized", message,
                         [(b"www-authenticate", b'Bearer realm="threadcount"')])

