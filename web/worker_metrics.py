"""The web workers' own figures in the primary's /metrics: each worker answers its registry (orders it
placed, its request timings, its open streams) on a Unix socket of its own, in the primary's private
folder; the primary asks every worker at each scrape, as it asks the actors (service/metrics.py), and
labels the series `actor="web-worker-<n>"`. A worker that does not answer in time is skipped and
counted, like an actor."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from service.metrics import CONTENT_TYPE, REGISTRY, SCRAPE_TIMEOUT, Source


def socket_of(folder: Path, index: int) -> Path:
    return folder / f"worker-{index}.sock"


async def serve_figures(path: Path) -> web.AppRunner:
    """In a worker: GET /metrics on `path` answers this process's registry."""
    async def figures(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE})

    app = web.Application()
    app.router.add_get("/metrics", figures)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.UnixSite(runner, str(path)).start()
    path.chmod(0o600)
    return runner


def worker_source(folder: Path, index: int) -> Source:
    """In the primary: one worker to scrape."""
    path = socket_of(folder, index)

    async def collect() -> list[Metric]:
        timeout = aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT)
        connector = aiohttp.UnixConnector(path=str(path))
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session, \
                session.get("http://worker/metrics") as answer:
            answer.raise_for_status()
            text = await answer.text()
        return list(text_string_to_metric_families(text))

    return Source({"actor": f"web-worker-{index}"}, collect)
