"""The Starlette app: the REST API under /api/v1 (bearer token or API key) and the dashboard (server-side
session), with the dashboard's static files and the npm packages it loads. Every route is held to the
role web/roles.py declares for it."""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
from collections.abc import Mapping
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from inventory.desk import ShardUnavailable
from service import tracing
from service.accounts import Accounts
from service.runtime import Runtime
from service.tls import tls_on
from service.version import VERSION
from store.private_files import private_file
from web import (
    api_accounts,
    api_alerts,
    api_catalog,
    api_dead_letters,
    api_holds,
    api_kits,
    api_orders,
    api_partners,
    api_stock,
    dashboard,
    metrics,
    problems,
)
from web.auth import GUARDED, BearerAuth
from web.body_limit import BodyLimit
from web.dashboard.session import current_principal, current_user, to_login
from web.dashboard.sessions_asgi import DashboardSessions
from web.dashboard.stream import end_streams
from web.dashboard.users import admin_password
from web.openapi import openapi_document
from web.problems import ApiError
from web.request_ids import RequestIds
from web.request_spans import RequestSpans
from web.responses import JSONResponse
from web.roles import guard
from web.security_headers import SecurityHeaders
from web.slow_clients import SlowBodies

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
STATIC = Path(__file__).resolve().parent / "static"
NODE_MODULES = REPO / "node_modules"
VENDOR = {"htmx.org": "dist", "htmx-ext-sse": "dist", "chart.js": "dist"}  # only their built files


async def healthz(request: Request) -> JSONResponse:
    if request.app.state.runtime.ready:
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "starting"}, status_code=503)


async def readyz(request: Request) -> JSONResponse:
    """Readiness: every part answers (each asked at once, with a short timeout); no details but the
    names of the checks and ok/failed."""
    checks = await request.app.state.runtime.readiness()
    ready = bool(checks) and all(state == "ok" for state in checks.values())
    return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks},
                        status_code=200 if ready else 503)


async def version(request: Request) -> JSONResponse:
    return JSONResponse({"version": VERSION})


async def home(request: Request) -> Response:
    return RedirectResponse("/stock" if await current_user(request) else "/login", status_code=303)


async def openapi(request: Request) -> JSONResponse:
    channels = list(request.app.state.runtime.settings.channels)
    return JSONResponse(openapi_document(str(request.base_url).rstrip("/"), channels))


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    # a 503 (a shard failing over, the service starting) says when to try again: the retry is safe
    headers = {"Retry-After": problems.RETRY_AFTER} if exc.status == 503 else None
    if not request.url.path.startswith("/api/"):
        return _page_error(request, exc.status, exc.message, headers)
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith("/api/"):
        return _page_error(request, exc.status_code, str(exc.detail), exc.headers)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = {**(exc.headers or {})}
    if exc.status_code == 405:
        headers["Allow"] = ", ".join(_allowed(request))
    return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code,
                        headers=headers)


def _allowed(request: Request) -> list[str]:
    """Every method some route of this path takes (one path may have a route per method, and
    Starlette's own 405 names only the first)."""
    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.path_regex.match(request.url.path) and route.methods:
            methods |= route.methods
    return sorted(methods)


async def unavailable(request: Request, exc: Exception) -> Response:
    log.warning("shard unavailable: %s", exc)
    return await api_error(request, problems.unavailable(str(exc)))


def _page_error(request: Request, status: int, message: str,
                headers: Mapping[str, str] | None = None) -> Response:
    try:
        from web.dashboard.session import render

        block = "message" if request.headers.get("hx-request") else None  # htmx swaps in only the message
        context = {"status": status, "message": message}
        return render(request, "error.html", context, status=status, block=block, headers=headers)
    except Exception:  # an error page must not fail: plain text is enough
        log.exception("rendering the error page failed")
        return HTMLResponse(f"<h1>{status}</h1><p>{html.escape(message)}</p>", status_code=status)


async def no_caller(request: Request) -> Response:
    """The guard's answer to a request with neither a token nor a session: the dashboard's pages
    send it to log in; /metrics (a scraper, not a browser) is refused as the API refuses it."""
    if request.url.path in GUARDED:
        return JSONResponse({"error": {"code": "unauthorized", "message": "Authorization: a valid "
                                       "'Bearer <token>' header is required"}}, status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="threadcount"'})
    return await to_login(request)


def static_routes() -> list[BaseRoute]:
    """The npm packages are installed by `npm ci` and served from node_modules; without them the app
    still runs (the pages lose their live updates) and says what to do."""
    missing = [name for name in VENDOR if not (NODE_MODULES / name / VENDOR[name]).is_dir()]
    if missing:
        log.warning("front-end packages missing (%s): run `npm ci` in %s", ", ".join(missing), REPO)
    vendor: list[BaseRoute] = [
        Mount(f"/static/vendor/{name}", StaticFiles(directory=NODE_MODULES / name / folder, check_dir=False))
        for name, folder in VENDOR.items()
    ]
    return [*vendor, Mount("/static", StaticFiles(directory=STATIC), name="static")]


def create_app(runtime: Runtime) -> Starlette:
    settings = runtime.settings
    routes = [
        Route("/", home),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/api/v1/version", version),
        Route("/api/v1/openapi.json", openapi),
        *api_catalog.routes,
        *api_kits.routes,
        *api_stock.routes,
        *api_orders.routes,
        *api_holds.routes,
        *api_partners.routes,
        *api_dead_letters.routes,
        *api_alerts.routes,
        *api_accounts.routes,
        *metrics.routes,
        *dashboard.routes,
        *static_routes(),
    ]
    accounts = Accounts(lambda: runtime.engine)
    app = Starlette(
        routes=guard(routes, current_principal, no_caller),
        middleware=[
            *([Middleware(RequestSpans)] if tracing.enabled() else []),
            Middleware(RequestIds),
            Middleware(metrics.RequestTimer),
            Middleware(SecurityHeaders, hsts=tls_on(settings)),
            Middleware(SlowBodies, timeout=settings.client_timeout),
            Middleware(BodyLimit),
            Middleware(BearerAuth, token=lambda: runtime.api_token, keys=accounts.key_principal,
                       ready=lambda: runtime.ready),
            Middleware(DashboardSessions, secret_key=private_file(settings.data_dir / "session_secret",
                                                                   secrets.token_urlsafe(48)),
                       https_only=tls_on(settings)),
        ],
        exception_handlers={ApiError: api_error, HTTPException: http_error, ShardUnavailable: unavailable},
    )
    app.state.runtime = runtime
    app.state.accounts = accounts
    app.state.templates = dashboard.build_environment()
    app.state.admin_password = admin_password(settings)
    app.state.admin_synced = False
    app.state.closing = asyncio.Event()
    return app


def begin_shutdown(app: Starlette) -> None:
    """Before the server stops: end the live streams (browsers reconnect to the next server), since
    the server waits for every open response and an event stream never finishes by itself."""
    app.state.closing.set()
    end_streams(app)
