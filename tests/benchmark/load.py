"""Closed-loop load: K clients post single-line orders for a fixed time; throughput and latency.
With a rate, each client sends at fixed times instead (the rate shared out over the clients), so the
service's CPU per order can be compared below saturation; a client whose answer comes late sends its
next order at once, and falls behind rather than piling requests up.

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
from typing import Any, cast
from urllib.parse import urlsplit

import uvloop

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
    rate: float | None = None  # orders a second over all clients; None: each sends on its last answer


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


Answer = tuple[int, dict[str, str], bytes]  # status, headers by lower-case name, body


class Connection:
    """One kept-alive HTTP/1.1 connection that posts JSON and reads the answer: the least a client
    can do per request. The generator shares two cores with the service it measures, and a
    general-purpose client (aiohttp's) cost 0.35-0.44 ms of CPU an order here, a third of what the
    service itself spent (README: The benchmark)."""

    def __init__(self, host: str, port: int, path: str, token: str | None):
        self._address = (host, port)
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        self._head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}"
                      "Content-Type: application/json\r\nContent-Length: ").encode()
        self._wire: _Wire | None = None

    async def post(self, body: bytes) -> Answer:
        """Raises OSError, ValueError or TimeoutError; the connection is closed then, and opened
        again by the next post."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                if self._wire is None or self._wire.closed:
                    transport, self._wire = await loop.create_connection(_Wire, *self._address)
                    self._wire.connection_made(transport)  # uvloop calls it later, on its next turn
                answer = await self._wire.exchange(b"%s%d\r\n\r\n%s" % (self._head, len(body), body))
        except (OSError, ValueError, TimeoutError):
            self.close()
            raise
        if answer[1].get("connection", "").lower() == "close":
            self.close()
        return answer

    def close(self) -> None:
        if self._wire is not None:
            self._wire.close()
        self._wire = None


class _Wire(asyncio.Protocol):
    """One TCP connection's bytes: a request written, its answer awaited."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._received = bytearray()
        self._waiter: asyncio.Future[Answer] | None = None
        self.closed = False

    def exchange(self, request: bytes) -> asyncio.Future[Answer]:
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self._transport is not None:
            self._transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # twice with uvloop: the same one

    def data_received(self, data: bytes) -> None:
        self._received += data
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        try:
            answer = _take_answer(self._received)
        except ValueError as exc:
            waiter.set_exception(exc)
            return
        if answer is not None:
            waiter.set_result(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionResetError("the server closed the connection"))


def _take_answer(received: bytearray) -> Answer | None:
    """The first whole answer in `received`, taken out of it; None while it is incomplete."""
    end_of_head = received.find(b"\r\n\r\n")
    if end_of_head < 0:
        return None
    lines = received[:end_of_head].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if "content-length" not in headers:
        raise ValueError("an answer without Content-Length")
    end = end_of_head + 4 + int(headers["content-length"])
    if len(received) < end:
        return None
    body = bytes(received[end_of_head + 4:end])
    del received[:end]
    return int(rest[:3]), headers, body


async def _post_order(connection: Connection, body: dict[str, Any]) -> tuple[str, bool, str]:
    """(order status or error note, succeeded, the web process that answered: "0" the primary)."""
    try:
        status, headers, raw = await connection.post(json.dumps(body).encode())
    except (OSError, ValueError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}", False, ""
    process = headers.get("x-threadcount-worker", "0")
    if not 200 <= status < 300:
        return f"HTTP {status}: {raw[:200].decode(errors='replace')}", False, process
    try:
        return str(json.loads(raw).get("status", "?")), True, process
    except ValueError as exc:
        return f"{type(exc).__name__}: {exc}", False, process


async def _client(plan: LoadPlan, name: str, window: tuple[float, float], tally: Tally) -> None:
    window_start, window_end = window
    rng = random.Random(name)
    url = urlsplit(plan.url)
    connection = Connection(url.hostname or "127.0.0.1", url.port or 80, url.path, plan.token)
    seq = 0
    interval = plan.clients / plan.rate if plan.rate else 0.0
    next_send = time.perf_counter() + rng.random() * interval  # spread over the first interval
    try:
        while time.perf_counter() < window_end:
            if interval:
                await asyncio.sleep(next_send - time.perf_counter())  # at once when behind
                next_send += interval
                if time.perf_counter() >= window_end:
                    break
            seq += 1
            body = {
                "channel": plan.channel,
                "external_id": f"{name}-{seq}",
                "lines": [{"sku": rng.choice(plan.skus), "quantity": 1}],
            }
            started = time.perf_counter()
            outcome, ok, process = await _post_order(connection, body)
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
    finally:
        connection.close()


async def generate(plan: LoadPlan) -> Tally:
    tally = Tally()
    run_id = secrets.token_hex(4)
    window_start = time.perf_counter() + plan.warmup
    window = (window_start, window_start + plan.duration)
    await asyncio.gather(*(_client(plan, f"bench-{run_id}-{n}", window, tally) for n in range(plan.clients)))
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
        *(["--rate", str(plan.rate)] if plan.rate else []),
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
    parser.add_argument("--rate", type=float, default=None,
                        help="orders a second over all clients (default: each client sends on its last answer)")
    parser.add_argument("--token", default=None, help=f"bearer token (default: ${TOKEN_ENV})")
    args = parser.parse_args(argv)
    skus = [s for s in args.skus.split(",") if s]
    if not skus:
        parser.error("need at least one SKU")
    check_load_options(parser, args)
    token = args.token or os.environ.get(TOKEN_ENV) or None
    return LoadPlan(args.url, skus, args.clients, args.warmup, args.duration, token, args.channel, args.rate)


def check_load_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The load's own options (--clients, --duration, --warmup, --rate), also where another tool takes them."""
    if args.clients < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("need one client or more, a positive --duration and a --warmup of 0 or more")
    if args.rate is not None and args.rate <= 0:
        parser.error("--rate must be positive")


def main(argv: list[str] | None = None) -> None:
    plan = _parse_args(argv)
    began = time.process_time()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        tally = runner.run(generate(plan))
    # the generator's own CPU: it shares the machine with what it measures
    generator_cpu_s = time.process_time() - began
    summary = summarize(tally, plan.duration)
    summary["generator_cpu_ms_per_order"] = round(generator_cpu_s * 1000 / max(tally.ok_total, 1), 3)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
