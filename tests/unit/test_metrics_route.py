"""GET /metrics in the web app without a running service (no actors, no store yet): refused without
a token, the web process's own figures with one, and every request timed by its route template."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from service.config import load_settings
from service.runtime import Runtime
from web import app as web_app

TOKEN = "a-test-admin-token"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path)}))
    runtime.api_token = TOKEN
    transport = httpx.ASGITransport(app=web_app.create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as browser:
        yield browser


@pytest.mark.parametrize("header", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}])
async def test_metrics_without_a_valid_token_is_refused_with_401(client: httpx.AsyncClient,
                                                                 header: dict[str, str]) -> None:
    answer = await client.get("/metrics", headers=header)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "threadcount_" not in answer.text


async def test_metrics_with_the_token_answers_the_web_process_figures_even_before_start(
        client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/openapi.json")
    answer = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {family.name: family for family in text_string_to_metric_families(answer.text)}
    assert {"threadcount_orders", "threadcount_sse_clients", "threadcount_notifications",
            "threadcount_http_request_duration_seconds"} <= set(families)
    timed = [s for s in families["threadcount_http_request_duration_seconds"].samples
             if s.name.endswith("_count") and s.labels["route"] == "/api/v1/openapi.json"]
    assert timed and timed[0].labels["actor"] == "web" and timed[0].labels["status"] == "200"


async def test_requests_with_made_up_methods_and_paths_add_no_series(client: httpx.AsyncClient) -> None:
    # a long hostile session must not grow the registry: every label comes from a fixed set
    for n in range(20):
        await client.request(f"PROPFIND{n}" if n % 2 else "MKCOL", f"/nowhere/{n}")
    answer = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    families = {family.name: family for family in text_string_to_metric_families(answer.text)}
    unmatched = {(s.labels["method"], s.labels["route"], s.labels["status"])
                 for s in families["threadcount_http_request_duration_seconds"].samples
                 if s.name.endswith("_count") and s.labels["route"] == "unmatched"}
    odd = {labels for labels in unmatched if labels[0] not in ("GET", "POST")}  # other tests' requests apart
    assert {method for method, _, _ in odd} == {"other"}
    assert len(odd) <= 2  # 404 and perhaps 405: never one per method or path
