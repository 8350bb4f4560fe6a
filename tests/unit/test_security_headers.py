"""Every answer carries the security headers; a 405 names what is allowed; the last-resort error
page escapes what it shows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

from service.config import load_settings
from service.runtime import Runtime
from web import app as web_app


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app: Starlette = web_app.create_app(Runtime(load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path)})))
    app.state.runtime.api_token = "token"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as browser:
        yield browser


@pytest.mark.parametrize("path", ["/login", "/api/v1/openapi.json", "/api/v1/locations", "/nowhere"])
async def test_pages_and_api_answers_carry_the_security_headers(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"


async def test_a_method_not_allowed_says_which_are(client: httpx.AsyncClient) -> None:
    answer = await client.delete("/api/v1/locations", headers={"Authorization": "Bearer token"})
    assert answer.status_code == 405
    assert set(answer.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_the_last_resort_error_page_escapes_its_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import web.dashboard.session as session

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the template is gone")

    monkeypatch.setattr(session, "render", broken)
    request = Request({"type": "http", "method": "GET", "path": "/x", "headers": [], "query_string": b""})
    page = web_app._page_error(request, 404, "<script>alert(1)</script>")
    assert b"<script>" not in page.body and b"&lt;script&gt;" in page.body
