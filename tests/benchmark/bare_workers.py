"""The web-workers question asked of a bare app: one process against two on one port, serving a
Starlette app with nothing of Threadcount in it (uvicorn on uvloop and httptools, as the service;
one route that reads the order's JSON and answers 201 with a small JSON), the same load alternating
between them in pairs (AB, BA, AB, ...), as `side_by_side` does for the service. Each process has a
socket of its own on the port (SO_REUSEPORT), as the service's web processes do. What a second
process costs here belongs to the machine and the server stack, not to Threadcount's code.

    python -m tests.benchmark.bare_workers --pairs 5              # closed loop, 64 clients
    python -m tests.benchmark.bare_workers --pairs 3 --rate 1000  # paced: CPU a request, like with like

Prints each run, then each pair's ratio of requests a second (second count over first), their
median, and the CPU a request of each side; the last line of stdout is the same as JSON. With
`--serve PORT INDEX` it is one of the app's processes (what the benchmark starts)."""

from __future__ import annotations

import argparse
import contextlib
import json
import select
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import psutil

from tests.benchmark.load import LoadPlan, run_load
from tests.benchmark.side_by_side import check_run_options, counts, pair_parser, pair_ratios
from tests.harness.procs import REPO_ROOT, free_ports

READY_S = 20.0  # seconds a process of the bare app may take to start


def app(index: int) -> Any:
    """The bare app; it says `ready` on stdout from its lifespan's start, which uvicorn runs just before
    it takes connections."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def order(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"id": body.get("external_id"), "status": "placed", "lines": body.get("lines")},
                            status_code=201, headers={"X-Threadcount-Worker": str(index)})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        print("ready", flush=True)
        yield

    return Starlette(routes=[Route("/api/v1/orders", order, methods=["POST"])], lifespan=lifespan)


def serve(port: int, index: int) -> None:
    """One process of the bare app, on its own socket in the port's SO_REUSEPORT group."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    config = uvicorn.Config(app(index), loop="uvloop", http="httptools", log_level="warning",
                            access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


@dataclass
class BareSide:
    """One of the two: `processes` copies of the bare app on a port of their own."""

    processes: int
    plan: LoadPlan
    children: list[subprocess.Popen[str]] = field(default_factory=list)
    requests_per_s: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # per request, the processes' CPU over each run
    answered_by: list[dict[str, int]] = field(default_factory=list)

    def start(self) -> None:
        port = urlsplit(self.plan.url).port
        for index in range(self.processes):
            child = subprocess.Popen([sys.executable, "-m", "tests.benchmark.bare_workers", "--serve", str(port),
                                      str(index)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
            self.children.append(child)
            assert child.stdout is not None
            said = select.select([child.stdout], [], [], READY_S)[0] and child.stdout.readline().strip()
            if said != "ready":
                raise RuntimeError(f"the bare app's process {index} did not start within {READY_S:g} s "
                                   f"(exit {child.poll()})")

    def stop(self) -> None:
        for child in self.children:
            child.kill()
            child.wait(timeout=10)

    def run(self) -> None:
        processes = [psutil.Process(child.pid) for child in self.children]
        before = _cpu_s(processes)
        load = run_load(self.plan)
        self.cpu_ms.append(round((_cpu_s(processes) - before) * 1000 / max(load["ok_total"], 1), 4))
        self.requests_per_s.append(load["orders_per_s"])
        self.p99_ms.append(load["p99_ms"])
        self.answered_by.append(load["answered_by"])
        print(f"{self.processes} bare process(es): {load['orders_per_s']:,.0f} requests/s, p99 {load['p99_ms']} ms, "
              f"CPU {self.cpu_ms[-1]:.3f} ms a request (the load generator {load['generator_cpu_ms_per_order']:.3f}), "
              f"errors {load['errors']}, answered by {load['answered_by']}", file=sys.stderr, flush=True)


def _cpu_s(processes: list[psutil.Process]) -> float:
    return sum(times.user + times.system for times in (process.cpu_times() for process in processes))


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = pair_parser("tests.benchmark.bare_workers", __doc__, pairs=5)
    parser.add_argument("--processes", default="1,2", metavar="A,B", help="the two sides' process counts (1,2)")
    parser.add_argument("--serve", nargs=2, type=int, metavar=("PORT", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    check_run_options(parser, args)
    args.processes = counts(parser, "--processes", args.processes, exactly=2)
    return args


def compare(args: argparse.Namespace) -> dict[str, Any]:
    sides = [BareSide(count, LoadPlan(f"http://127.0.0.1:{port}/api/v1/orders", ["BARE-1", "BARE-2"], args.clients,
                                      args.warmup, args.duration, rate=args.rate))
             for count, port in zip(args.processes, free_ports(2), strict=True)]
    with contextlib.ExitStack() as stack:
        for side in sides:
            stack.callback(side.stop)
            side.start()
        for pair in range(args.pairs):
            for side in sides if pair % 2 == 0 else sides[::-1]:
                side.run()
    first, second = sides
    return {"processes": args.processes, "pairs": args.pairs, "rate": args.rate,
            **pair_ratios(first.requests_per_s, second.requests_per_s),
            "cpu": pair_ratios(first.cpu_ms, second.cpu_ms),
            "sides": [{"processes": side.processes, "requests_per_s": side.requests_per_s, "p99_ms": side.p99_ms,
                       "cpu_ms_per_request": side.cpu_ms, "answered_by": side.answered_by} for side in sides]}


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.serve:
        serve(*args.serve)
        return 0
    result = compare(args)
    first, second = result["sides"]
    share = f"median {result['median']:.0%}" if result["ratios"] else "no pair answered"
    print(f"{second['processes']} bare processes against {first['processes']}, {args.pairs} pairs: {share} "
          "(pairs: " + ", ".join(f"{r:.0%}" for r in result["ratios"]) + ")")
    if result["cpu"]["ratios"]:
        print(f"  CPU a request, {second['processes']} over {first['processes']}: median {result['cpu']['median']:.0%} "
              "(pairs: " + ", ".join(f"{r:.0%}" for r in result["cpu"]["ratios"]) + ")")
    for side in result["sides"]:
        print(f"  {side['processes']}: requests/s {', '.join(f'{x:,.0f}' for x in side['requests_per_s'])}; "
              f"CPU ms a request {', '.join(f'{x:.3f}' for x in side['cpu_ms_per_request'])}")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
