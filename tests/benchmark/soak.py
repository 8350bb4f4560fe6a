"""The soak: memory of the whole service over a long hostile session (`python -m tests.benchmark --soak S`).

`python run.py` in demo mode (demo catalog, every partner simulator, their shoppers on) plus the
benchmark's 200 variants; then for S seconds the 64-client order load (tests/benchmark/load.py) and,
beside it, hostile traffic (tests/benchmark/hostile.py: bad JSON, unknown SKUs, a new Idempotency-Key
each time, failed logins under made-up names, streams that connect and vanish, duplicate orders,
unmatched paths). Resident memory of every process in the service's tree is sampled by kind
(tests/benchmark/rss_kinds.py: web, gcs_server, raylet, each actor by name, idle workers, simulators)
once the warm-up is over and every 30 s after, and printed start -> end with the growth per kind.
The number of series /metrics answers is read at start and end too (label cardinality).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.benchmark.catalog import create_catalog
from tests.benchmark.load import LoadPlan, run_load
from tests.benchmark.rss_kinds import Sample, growth_table, mb, sample
from tests.benchmark.scenarios import STOCK_PER_SKU, _say, _stop, threadcount_env, workers_ready
from tests.benchmark.streams import PASSWORD_ENV, TOKEN_ENV
from tests.harness.procs import REPO_ROOT, ServerError, ServerProcess, free_ports

READY_TIMEOUT = 120.0
WARMUP = 30.0  # the load and the hostile traffic run this long before the first sample
EVERY = 30.0


def _series(base: str, token: str) -> int | None:
    """How many series one scrape of /metrics holds."""
    try:
        answer = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    except httpx.HTTPError:
        return None
    return sum(1 for line in answer.text.splitlines() if line and not line.startswith("#"))


def _figures(at: float, found: Sample) -> dict[str, Any]:
    return {"t_s": round(at), "total_mb": mb(found.total),
            "mb": {k: mb(v) for k, v in sorted(found.rss.items())}, "processes": dict(sorted(found.count.items()))}


def run_soak(seconds: float, result: dict[str, Any], clients: int = 64, skus: int = 200,
             web_workers: int = 1) -> None:
    """Fills ``result`` as it goes, so a failure keeps the figures measured before it."""
    with tempfile.TemporaryDirectory(prefix="tc-bench-soak-", ignore_cleanup_errors=True) as tmp:
        web_port, ingress_port = free_ports(2)
        token = secrets.token_urlsafe(32)
        env = threadcount_env(Path(tmp, "data"), web_port, ingress_port, token, web_workers=web_workers)
        env.update(THREADCOUNT_DEMO="1", THREADCOUNT_SHOPPERS="1")
        server = ServerProcess("threadcount-soak", [sys.executable, "run.py"], env=env,
                               log_path=Path(tmp, "threadcount-soak.log"))
        base = f"http://127.0.0.1:{web_port}"
        try:
            server.start()
            result["start_to_ready_s"] = round(server.wait_ready(f"{base}/healthz", READY_TIMEOUT), 2)
            workers_ready(base, web_workers, result)
            _say(f"soak: ready; creating {skus} variants, then {WARMUP:g} s warm-up + {seconds:g} s measured")
            pool = asyncio.run(create_catalog(base, token, variants=skus, quantity=STOCK_PER_SKU))
            _measure(server, base, token, pool, seconds, clients, result)
        except Exception as exc:
            if not isinstance(exc, ServerError):
                exc.add_note(f"last lines of the soak's log:\n{server.log_tail()}")
            raise
        finally:
            _stop(server, result)


def _measure(server: ServerProcess, base: str, token: str, pool: list[str], seconds: float, clients: int,
             result: dict[str, Any]) -> None:
    plan = LoadPlan(f"{base}/api/v1/orders", pool, clients, WARMUP, seconds, token)
    load: dict[str, Any] = {}
    loader = threading.Thread(target=lambda: load.update(run_load(plan)), name="soak-load", daemon=True)
    hostile = subprocess.Popen(
        [sys.executable, "-m", "tests.benchmark.hostile", "--base", base, "--sku", pool[0],
         "--duration", str(WARMUP + seconds)],
        cwd=REPO_ROOT, env={**server_env(), TOKEN_ENV: token, PASSWORD_ENV: token},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    began = time.monotonic()
    loader.start()
    try:
        time.sleep(WARMUP)
        start = sample(server.tree())
        result["series_start"] = _series(base, token)
        trail: list[tuple[float, Sample]] = [(0.0, start)]
        result["samples"] = [_figures(0.0, start)]
        _say(f"soak: start {mb(start.total)} MB; {start.count}")
        measured_from = time.monotonic()
        while (elapsed := time.monotonic() - measured_from) < seconds:
            time.sleep(min(EVERY, seconds - elapsed))
            server.check_alive()
            at = time.monotonic() - measured_from
            now = sample(server.tree())
            trail.append((at, now))
            result["samples"].append(_figures(at, now))
            _say(f"soak: {at:.0f} s {mb(now.total)} MB")
        result["series_end"] = _series(base, token)
        end = trail[-1][1]
        result["growth_mb"] = {k: mb(end.rss.get(k, 0) - start.rss.get(k, 0))
                               for k in sorted(set(start.rss) | set(end.rss))}
        result["table"] = growth_table(start, end, trail)
    finally:
        loader.join(timeout=max(0.0, WARMUP + seconds + 120 - (time.monotonic() - began)))
        try:
            out, err = hostile.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            hostile.kill()
            out, err = hostile.communicate()
    result["load"] = load
    lines = out.strip().splitlines()
    result["hostile"] = json.loads(lines[-1]) if lines else {"error": err[-1000:]}


def server_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in (TOKEN_ENV, PASSWORD_ENV)}


def render_soak(seconds: float, result: dict[str, Any]) -> str:
    load = result.get("load") or {}
    lines = [f"soak: {seconds:g} s of {load.get('orders_per_s', '-')} orders/s (64 clients, errors "
             f"{load.get('errors', '-')}) plus hostile traffic, demo mode with every simulator and shopper",
             f"resident memory by kind of process, start (after {WARMUP:g} s warm-up) -> end:"]
    lines += [f"  {line}" for line in result.get("table", [])]
    lines.append(f"  /metrics series: {result.get('series_start')} -> {result.get('series_end')}")
    hostile = result.get("hostile") or {}
    lines.append("  hostile requests: " + ", ".join(f"{k} x{v}" for k, v in hostile.items()))
    if "error" in result:
        lines.append(f"soak FAILED: {result['error']}")
    return "\n".join(lines)
