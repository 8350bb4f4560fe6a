"""The web app's dashboard plumbing without a running service: the home redirect, sessions required,
the REST API's bearer auth untouched, and the npm packages served from node_modules (or a clear
message when `npm ci` was not run)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from service.config import load_settings
from service.runtime import Runtime
from web import app as web_app


@pytest.fixture
def app(tmp_path: Path) -> Starlette:
    return web_app.create_app(Runtime(load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path)})))


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as browser:
        yield browser


async def test_home_sends_a_visitor_without_a_session_to_the_login_page(client: httpx.AsyncClient) -> None:
    answer = await client.get("/")
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    login = await client.get("/login")
    assert 'name="username"' in login.text and 'name="password"' in login.text and 'type="submit"' in login.text
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


@pytest.mark.parametrize("path", ["/stock", "/orders", "/controls?sku=X", "/bulk", "/stream", "/orders/abc"])
async def test_every_dashboard_page_needs_a_session(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")


async def test_an_htmx_request_without_a_session_is_told_to_go_to_the_login_page(client: httpx.AsyncClient) -> None:
    answer = await client.get("/stock", headers={"HX-Request": "true"})
    assert answer.headers["HX-Redirect"].startswith("/login")


async def test_a_dashboard_post_without_a_session_changes_nothing_and_goes_to_login(
        client: httpx.AsyncClient) -> None:
    answer = await client.post("/controls/adjust", data={"sku": "X", "quantity": "1"})
    assert answer.status_code == 303


async def test_the_rest_api_still_wants_its_bearer_token_and_sets_no_cookie(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/locations")
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize("header", ["Bearer \u00e9", "Bearer \u00e9\u00e9\u00e9", "B\u00e9arer x"])
async def test_a_bearer_token_with_non_ascii_bytes_is_refused_with_401_not_a_server_error(
        app: Starlette, client: httpx.AsyncClient, header: str) -> None:
    app.state.runtime.api_token = "the-real-token"
    answer = await client.get("/api/v1/locations", headers={"Authorization": header.encode()})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


async def test_the_npm_packages_built_files_are_served_and_nothing_else(client: httpx.AsyncClient) -> None:
    if not (web_app.NODE_MODULES / "htmx.org" / "dist").is_dir():
        pytest.skip("node_modules is not installed (npm ci)")
    for path in ("/static/vendor/htmx.org/htmx.min.js", "/static/vendor/htmx-ext-sse/sse.min.js",
                 "/static/vendor/chart.js/chart.umd.min.js", "/static/app.css", "/static/live.js"):
        assert (await client.get(path)).status_code == 200, path
    assert (await client.get("/static/vendor/htmx.org/package.json")).status_code == 404
    assert (await client.get("/static/vendor/htmx.org/../htmx.org/package.json")).status_code == 404


def test_the_app_starts_without_node_modules_and_says_to_run_npm_ci(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(web_app, "NODE_MODULES", tmp_path / "no-node-modules")
    with caplog.at_level(logging.WARNING, logger="web.app"):
        web_app.create_app(Runtime(load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path)})))
    assert "run `npm ci`" in caplog.text
