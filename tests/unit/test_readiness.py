"""GET /readyz over the app with a runtime whose checks are faked: 200 with every check ok, 503 naming
the failing check, and nothing beyond check names and ok/failed; no token needed. And what the
checks leave in the log: a failure when it begins or changes, a recovery once, a timeout named."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from service.config import load_settings
from service.readiness import ReadinessLog
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


def test_a_checks_failure_is_logged_when_it_begins_or_changes_and_its_recovery_once(
        caplog: pytest.LogCaptureFixture) -> None:
    """Not at every probe: an orchestrator probes every few seconds."""
    readiness = ReadinessLog()
    with caplog.at_level(logging.INFO, logger="service.runtime"):
        for _ in range(3):
            readiness.failed("partner:etsy", "no answer within 1 s")
            readiness.passed("hub")
        readiness.failed("partner:etsy", "the actor died")
        readiness.passed("partner:etsy")
        readiness.passed("partner:etsy")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "readiness: partner:etsy failed: no answer within 1 s"),
        ("WARNING", "readiness: partner:etsy failed: the actor died"),
        ("INFO", "readiness: partner:etsy ok again")]


def test_a_failure_while_starting_is_logged_once_at_info_and_says_nothing_when_it_comes_up(
        caplog: pytest.LogCaptureFixture) -> None:
    readiness = ReadinessLog()
    with caplog.at_level(logging.INFO, logger="service.runtime"):
        for _ in range(5):
            readiness.failed("shards", "no shards yet", starting=True)
        readiness.passed("shards")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "readiness: shards failed: no shards yet")]


async def test_a_check_that_times_out_says_so_in_the_log_not_an_empty_reason(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    runtime = Runtime(load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path), "THREADCOUNT_DEMO": "0"}))
    runtime.ready = True  # as if started, partners and all, with a hub that never answers
    runtime._partners_started = asyncio.ensure_future(asyncio.sleep(0))
    await runtime._partners_started

    class Silent:
        class pid:
            @staticmethod
            async def remote() -> None:
                await asyncio.sleep(10)

    runtime._hub = Silent()
    with caplog.at_level(logging.INFO, logger="service.runtime"):
        checks = await runtime.readiness(timeout=0.1)
    assert checks["hub"] == "failed"
    assert ("WARNING", "readiness: hub failed: no answer within 0.1 s") in [
        (r.levelname, r.getMessage()) for r in caplog.records]
