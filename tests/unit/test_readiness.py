"""GET /readyz over the app with a runtime whose checks are faked: 200 with every check ok, 503 naming
the failing check, and nothing beyond check names and ok/failed; no token needed."""

from __future__ import annotations

from pathlib import Path

import httpx

from service.config import load_settings
from service.runtime import Runtime
from web import app as web_app


class FakeRuntime(Runtime):
    def __init__(self, data_dir: Path, checks: dict[str, str]):
        super().__init__(load_settings(None, {"THREADCOUNT_DATA_DIR": str(data_dir)}))
        self.checks = checks

    async def readiness(self, timeout: float = 1.0) -> dict[str, str]:
        return dict(self.checks)


async def ready_answer(data_dir: Path, checks: dict[str, str]) -> httpx.Response:
    app = web_app.create_app(FakeRuntime(data_dir, checks))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get("/readyz")


async def test_readyz_is_200_and_names_every_check_when_all_answer(tmp_path: Path) -> None:
    checks = {"shards": "ok", "hub": "ok", "database": "ok", "partner:etsy": "ok"}
    answer = await ready_answer(tmp_path, checks)
    assert (answer.status_code, answer.json()) == (200, {"status": "ready", "checks": checks})


async def test_readyz_is_503_with_the_failing_check_when_one_part_does_not_answer(tmp_path: Path) -> None:
    checks = {"shards": "ok", "hub": "ok", "database": "failed", "partner:etsy": "ok"}
    answer = await ready_answer(tmp_path, checks)
    assert (answer.status_code, answer.json()) == (503, {"status": "not_ready", "checks": checks})


async def test_a_runtime_not_started_is_not_ready_and_every_check_fails_within_the_timeout(tmp_path: Path) -> None:
    runtime = Runtime(load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path), "THREADCOUNT_DEMO": "0"}))
    assert await runtime.readiness(timeout=0.2) == {"shards": "failed", "hub": "failed", "database": "failed"}
