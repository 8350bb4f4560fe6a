"""The two runs: the naive baseline server and Threadcount, each spawned, loaded, measured, stopped."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.benchmark import baseline
from tests.benchmark.catalog import create_catalog
from tests.benchmark.load import LoadPlan, run_load
from tests.benchmark.stream_load import run_with_streams
from tests.harness.otlp import threaded_receiver
from tests.harness.procs import REPO_ROOT, RssSampler, ServerError, ServerProcess, free_ports
from web.dashboard.fanout import IDLE_STOP

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
STOCK_PER_SKU = 100_000
# Inherited settings that would point the run at someone else's database or cluster.
KEEP_FROM_ENV = {"THREADCOUNT_SHARDS"}
# Threadcount's traces are on only with --otlp: an inherited endpoint would measure someone's collector.
OTEL_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


@dataclass(frozen=True)
class Settings:
    clients: int
    warmup: float
    duration: float
    skus: int
    streams: int = 0
    otlp: bool = False  # Threadcount traced, exporting to a receiver that discards (tests/harness/otlp.py)
    web_workers: int = 1  # THREADCOUNT_WEB_WORKERS
    plain_streams: bool = False  # the streams do not offer deflate


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load_and_sample(server: ServerProcess, plan: LoadPlan) -> dict[str, Any]:
    _say(f"{server.name}: {plan.clients} clients, {plan.warmup:g} s warm-up + {plan.duration:g} s measured")
    cpu, machine = _tree_cpu_s(server), psutil.cpu_times()
    with RssSampler(server) as rss:
        load = run_load(plan)
    machine_used = {name: round(getattr(psutil.cpu_times(), name) - getattr(machine, name), 2)
                    for name in MACHINE_CPU if hasattr(machine, name)}
    used = {kind: seconds - cpu.get(kind, 0.0) for kind, seconds in _tree_cpu_s(server).items()}
    server.check_alive()
    # CPU the server's whole tree spent per answered order: steadier than orders/s on a shared machine
    ok = load.get("ok_total")
    per_order = round(sum(used.values()) * 1000 / ok, 3) if ok else None
    by_kind = {kind: round(seconds * 1000 / ok, 3) for kind, seconds in sorted(used.items())} if ok else {}
    return {**load, "peak_rss_mb": rss.peak_mb, "peak_processes": rss.peak_processes,
            "cpu_ms_per_order": per_order, "cpu_ms_per_order_by_process": by_kind,
            "cpu_s_by_process": {kind: round(seconds, 2) for kind, seconds in sorted(used.items())},
            "machine_cpu_s": machine_used}


# the whole machine's CPU seconds over the load by kind (softirq: loopback TCP, charged to no process)
MACHINE_CPU = ("user", "system", "softirq", "idle", "steal")
PROCESS_KINDS = (("StockShard", "shards"), ("EventHub", "hub"), ("PartnerConnector", "partners"),
                 ("run.py worker", "web workers"), ("gcs_server", "ray"), ("raylet", "ray"))


def _kind(process: psutil.Process, root: int) -> str:
    """Which part of the service a process of its tree is (the web process is the tree's root)."""
    if process.pid == root:
        return "web"
    command = " ".join(process.cmdline())
    return next((kind for mark, kind in PROCESS_KINDS if mark in command), "other")


def _tree_cpu_s(server: ServerProcess) -> dict[str, float]:
    """CPU seconds by kind of process (_kind) over the server's tree; exited processes are not counted."""
    total: dict[str, float] = {}
    root = server.pid
    for process in server.tree():
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            times = process.cpu_times()
            kind = _kind(process, root)
            total[kind] = total.get(kind, 0.0) + times.user + times.system
    return total


def _stop(server: ServerProcess, result: dict[str, Any]) -> None:
    stopped = server.stop(STOP_TIMEOUT)
    if stopped is None:
        return
    result.update(
        shutdown_s=stopped.seconds,
        exit_code=stopped.exit_code,
        killed=stopped.killed,
        leftover_processes=stopped.leftover_processes,
    )
    if stopped.seconds is None:
        _say(f"{server.name}: had already exited, code {stopped.exit_code}")
    else:
        _say(f"{server.name}: stopped in {stopped.seconds} s, exit code {stopped.exit_code}")


def run_baseline(settings: Settings, result: dict[str, Any]) -> None:
    """Fills ``result`` as it goes, so a failure keeps the figures measured before it."""
    with tempfile.TemporaryDirectory(prefix="tc-bench-baseline-", ignore_cleanup_errors=True) as tmp:
        (port,) = free_ports(1)
        argv = [
            sys.executable,
            "-m",
            "tests.benchmark.baseline",
            "--port",
            str(port),
            "--db",
            str(Path(tmp, "baseline.db")),
            "--seed-skus",
            str(settings.skus),
            "--stock",
            str(STOCK_PER_SKU),
        ]
        server = ServerProcess("baseline", argv, env=dict(os.environ), log_path=Path(tmp, "baseline.log"))
        try:
            server.start()
            result["start_to_ready_s"] = round(server.wait_ready(f"http://127.0.0.1:{port}/healthz", 30), 2)
            plan = _plan(settings, f"http://127.0.0.1:{port}", baseline.sku_names(settings.skus), None)
            result.update(_load_and_sample(server, plan))
        finally:
            _stop(server, result)


def threadcount_env(data_dir: Path, web_port: int, ingress_port: int, token: str,
                    otlp_endpoint: str | None = None, web_workers: int = 1) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if (not k.startswith("THREADCOUNT_") or k in KEEP_FROM_ENV) and k not in OTEL_ENDPOINTS}
    if otlp_endpoint:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp_endpoint
    env.update(
        THREADCOUNT_DATA_DIR=str(data_dir),
        THREADCOUNT_WEB_PORT=str(web_port),
        THREADCOUNT_INGRESS_PORT=str(ingress_port),
        THREADCOUNT_DEMO="0",
        THREADCOUNT_ADMIN_TOKEN=token,
        THREADCOUNT_ADMIN_PASSWORD=token,
        THREADCOUNT_WEB_WORKERS=str(web_workers),
        PYTHONUNBUFFERED="1",
    )
    return env


def run_threadcount(settings: Settings, result: dict[str, Any]) -> None:
    """Fills ``result`` as it goes, so a failure keeps the figures measured before it."""
    if not (REPO_ROOT / "run.py").exists():
        raise FileNotFoundError(f"{REPO_ROOT / 'run.py'} does not exist yet")
    with contextlib.ExitStack() as stack:
        endpoint = None
        if settings.otlp:
            endpoint, exports = stack.enter_context(threaded_receiver())
            stack.callback(lambda: result.update(otlp_exports=exports.requests))
        result["traced"] = settings.otlp
        _run_threadcount(settings, result, endpoint)


def _run_threadcount(settings: Settings, result: dict[str, Any], otlp_endpoint: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="tc-bench-threadcount-", ignore_cleanup_errors=True) as tmp:
        web_port, ingress_port = free_ports(2)
        token = secrets.token_urlsafe(32)
        env = threadcount_env(Path(tmp, "data"), web_port, ingress_port, token, otlp_endpoint,
                              settings.web_workers)
        log = Path(tmp, "threadcount.log")
        server = ServerProcess("threadcount", [sys.executable, "run.py"], env=env, log_path=log)
        base = f"http://127.0.0.1:{web_port}"
        try:
            server.start()
            ready = server.wait_ready(f"{base}/healthz", READY_TIMEOUT)
            result["start_to_ready_s"] = round(ready, 2)
            workers_ready(base, settings.web_workers, result)
            _say(f"threadcount: ready in {ready:.2f} s; creating {settings.skus} variants")
            variants = settings.skus + (1 if settings.streams else 0)  # the streams' marker: no load on it
            skus = asyncio.run(create_catalog(base, token, variants=variants, quantity=STOCK_PER_SKU))
            marker = skus.pop() if settings.streams else ""
            plan = _plan(settings, base, skus, token)
            result.update(_load_and_sample(server, plan))
            if settings.streams:
                _say(f"threadcount: the load again with {settings.streams} dashboard streams open")
                streamed = run_with_streams(plan, settings.streams, marker, STOCK_PER_SKU, token,
                                            partial(_load_and_sample, server), settings.plain_streams)
                server.check_alive()
                result["with_streams"] = streamed
                # The streams' load is compared with the mean of a load without streams before and
                # after it, so a drift from one load to the next is not counted as the streams' cost;
                # the one after once the server has stopped following for the streams (IDLE_STOP).
                time.sleep(IDLE_STOP + 2)
                _say("threadcount: the load again without streams (the drift between loads)")
                after = _load_and_sample(server, plan)
                result["after_streams"] = {key: after.get(key) for key in
                                           ("orders_per_s", "p50_ms", "p99_ms", "errors", "machine_cpu_s")}
        except Exception as exc:
            if not isinstance(exc, ServerError):
                exc.add_note(f"last lines of the threadcount log:\n{server.log_tail()}")
            raise
        finally:
            _stop(server, result)


def workers_ready(base: str, count: int, result: dict[str, Any]) -> None:
    """Once the primary is ready: until each of the `count` web processes answers (result: how long)."""
    result["web_workers"] = count
    if count > 1:
        result["workers_ready_s"] = round(wait_for_workers(base, count), 2)


def wait_for_workers(base: str, count: int, timeout: float = 120) -> float:
    """Seconds until every web process has answered (each answer names its process)."""
    began = time.monotonic()
    seen: set[str] = set()
    while len(seen) < count:
        if time.monotonic() - began > timeout:
            raise ServerError(f"only web processes {sorted(seen)} of {count} answered within {timeout:g} s")
        with httpx.Client(base_url=base, timeout=10) as client:  # a new connection each time
            seen.add(client.get("/healthz").headers.get("x-threadcount-worker", "0"))
    return time.monotonic() - began


def _plan(settings: Settings, base: str, skus: list[str], token: str | None) -> LoadPlan:
    return LoadPlan(
        url=f"{base}/api/v1/orders",
        skus=skus,
        clients=settings.clients,
        warmup=settings.warmup,
        duration=settings.duration,
        token=token,
    )
