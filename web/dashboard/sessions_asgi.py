"""Session cookies for the dashboard only: the REST API (bearer tokens, the hot order path) and the
health check pass straight through, without reading or setting a cookie."""

from __future__ import annotations

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "threadcount_session"
MAX_AGE = 12 * 3600  # seconds: one working day; then log in again


class DashboardSessions:
    def __init__(self, app: ASGIApp, secret_key: str, https_only: bool = False):
        self.app = app
        # HttpOnly is always set by Starlette; SameSite=Lax keeps cross-site POSTs cookie-less;
        # with TLS on the cookie is Secure too (never sent over plain HTTP)
        self.sessions = SessionMiddleware(app, secret_key=secret_key, session_cookie=COOKIE,
                                          max_age=MAX_AGE, same_site="lax", https_only=https_only)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and not path.startswith(("/api/", "/healthz", "/static/")):
            await self.sessions(scope, receive, send)
            return
        await self.app(scope, receive, send)
