"""The Starlette app: REST API under /api/v1 (and, later, the dashboard)."""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from actors.router import ShardUnavailable
from service.runtime import Runtime
from web import api_catalog, api_orders, api_partners, api_stock
from web.auth import BearerAuth
from web.openapi import openapi_document
from web.problems import ApiError
from web.responses import JSONResponse

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    if request.app.state.runtime.ready:
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "starting"}, status_code=503)


async def home(_request: Request) -> HTMLResponse:
    # The dashboard replaces this page; until then it points at what there is.
    return HTMLResponse(
        "<!doctype html><title>Threadcount</title><h1>Threadcount</h1>"
        "<p>The REST API is at <a href='/api/v1/openapi.json'>/api/v1</a> (bearer token: see the start-up "
        "message). Health: <a href='/healthz'>/healthz</a>.</p>"
    )


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi_document(str(request.base_url).rstrip("/")))


async def api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status)


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return JSONResponse({"error": {"code": code, "message": str(exc.detail)}}, status_code=exc.status_code)


async def unavailable(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("shard unavailable: %s", exc)
    body = {"error": {"code": "unavailable", "message": f"{exc}; retrying the same request is safe"}}
    return JSONResponse(body, status_code=503)


def create_app(runtime: Runtime) -> Starlette:
    routes = [
        Route("/", home),
        Route("/healthz", healthz),
        Route("/api/v1/openapi.json", openapi),
        *api_catalog.routes,
        *api_stock.routes,
        *api_orders.routes,
        *api_partners.routes,
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(BearerAuth, token=lambda: runtime.api_token)],
        exception_handlers={ApiError: api_error, HTTPException: http_error, ShardUnavailable: unavailable},
    )
    app.state.runtime = runtime
    return app
