"""Closed-loop load: K clients post single-line orders for a fixed time; throughput and latency.

Runs in its own process (the machine has 2 cores; the server under test must not share an
interpreter with its load). ``run_load`` spawns ``python -m tests.benchmark.load`` and reads the one
JSON line it prints. The bearer token travels in the environment, never on the command line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.harness.procs import REPO_ROOT

TOKEN_ENV = "THREADCOUNT_BENCH_TOKEN"
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class LoadPlan:
    url: str
    skus: list[str]
    clients: int = 64
    warmup: float = 2.0
    duration: float = 10.0
    token: str | None = None
    channel: str = "direct"


@dataclass
class Tally:
    """Outcomes of requests that finished inside the measured window (errors outside it apart)."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    errors_outside_window: int = 0
    ok_total: int = 0  # answered orders, warm-up and drain included (for CPU per order)
    statuses: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    answered_by: Counter[str] = field(default_factory=Counter)  # X-Threadcount-Worker of each order in the window

    def record_error(self, note: str, in_window: bool) -> None:
        if in_window:
            self.errors += 1
        else:
            self.errors_outside_window += 1
        if len(self.error_samples) < 5 and note not in self.error_samples:
            self.error_samples.append(note)


async def _post_order(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[str, bool, str]:
    """(order status or error note, succeeded, the web process that answered: "0" the primary)."""
    try:
        async with session.post(url, json=body) as resp:
            raw = await resp.read()
            process = resp.headers.get("X-Threadcount-Worker", "0")
            if not 200 <= resp.status < 300:
                return f"HTTP {resp.status}: {raw[:200].decode(errors='replace')}", False, process
            return str(json.loads(raw).get("status", "?")), True, process
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}", False, ""


async def _client(
    session: aiohttp.ClientSession, plan: LoadPlan, name: str, window: tuple[float, float], tally: Tally
) -> None:
    window_start, window_end = window
    rng = random.Random(name)
    seq = 0
    while time.perf_counter() < window_end:
        seq += 1
        body = {
            "channel": plan.channel,
            "external_id": f"{name}-{seq}",
            "lines": [{"sku": rng.choice(plan.skus), "quantity": 1}],
        }
        started = time.perf_counter()
        outcome, ok, process = await _post_order(session, plan.url, body)
        finished = time.perf_counter()
        in_window = window_start <= finished <= window_end
        if not ok:
            tally.record_error(outcome, in_window)
            continue
        tally.ok_total += 1
        if in_window:
            tally.latencies.append(finished - started)
            tally.statuses[outcome] += 1
            tally.answered_by[process] += 1


async def generate(plan: LoadPlan) -> Tally:
    headers = {"Authorization": f"Bearer {plan.token}"} if plan.token else {}
    connector = aiohttp.TCPConnector(limit=plan.clients)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    tally = Tally()
    run_id = secrets.token_hex(4)
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as session:
        window_start = time.perf_counter() + plan.warmup
        window = (window_start, window_start + plan.duration)
        await asyncio.gather(
            *(_client(session, plan, f"bench-{run_id}-{n}", window, tally) for n in range(plan.clients))
        )
    return tally


def _percentile_ms(ordered: list[float], pct: float) -> float | None:
    if not ordered:
        return None
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return round(ordered[rank - 1] * 1000, 2)


def summarize(tally: Tally, duration: float) -> dict[str, Any]:
    ordered = sorted(tally.latencies)
    return {
        "orders_per_s": round(len(ordered) / duration, 1),
        "p50_ms": _percentile_ms(ordered, 50),
        "p99_ms": _percentile_ms(ordered, 99),
        "errors": tally.errors,
        "errors_outside_window": tally.errors_outside_window,
        "ok": len(ordered),
        "ok_total": tally.ok_total,
        "statuses": dict(tally.statuses),
        "error_samples": tally.error_samples,
        "answered_by": dict(sorted(tally.answered_by.items())),
    }


def run_load(plan: LoadPlan) -> dict[str, Any]:
    """Run the load in a separate Python process and return its summary."""
    argv = [
        sys.executable,
        "-m",
        "tests.benchmark.load",
        "--url",
        plan.url,
        "--skus",
        ",".join(plan.skus),
        "--clients",
        str(plan.clients),
        "--warmup",
        str(plan.warmup),
        "--duration",
        str(plan.duration),
        "--channel",
        plan.channel,
    ]
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    if plan.token:
        env[TOKEN_ENV] = plan.token
    done = subprocess.run(
        argv,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=plan.warmup + plan.duration + REQUEST_TIMEOUT + 60,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"load generator failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _parse_args(argv: list[str] | None) -> LoadPlan:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark.load", description=__doc__)
    parser.add_argument("--url", required=True, help="full URL of POST /api/v1/orders")
    parser.add_argument("--skus", required=True, help="comma-separated SKUs to order from")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--channel", default="direct")
    parser.add_argument("--token", default=None, help=f"bearer token (default: ${TOKEN_ENV})")
    args = parser.parse_args(argv)
    skus = [s for s in args.skus.split(",") if s]
    if not skus or args.clients < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("need at least one SKU, one client, a positive duration and a non-negative warm-up")
    token = args.token or os.environ.get(TOKEN_ENV) or None
    return LoadPlan(args.url, skus, args.clients, args.warmup, args.duration, token, args.channel)


def main(argv: list[str] | None = None) -> None:
    plan = _parse_args(argv)
    tally = asyncio.run(generate(plan))
    print(json.dumps(summarize(tally, plan.duration)), flush=True)


if __name__ == "__main__":
    main()
