"""Two services at once, one with 1 web process and one with 2 (or the counts given), the same order
load alternating between them in pairs (AB, BA, AB, ...): both meet the same spells of a shared
host, whose speed moved by a third between minutes, where `python -m tests.benchmark --web-workers
1,2` starts one service after the other. Prints each run, then the ratio of each pair (second count
over first), their median and mean, and the CPU per order of each kind of process over all runs;
the last line of stdout is the same as JSON.

    python -m tests.benchmark.side_by_side --pairs 10      # 6 s measured a run after 1 s of warm-up
    python -m tests.benchmark.side_by_side --web-workers 1,1 --shards 2,1   # the shard count instead
    python -m tests.benchmark.side_by_side --rate 600   # both at 600 orders/s: compare CPU per order
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.benchmark.catalog import create_catalog
from tests.benchmark.load import LoadPlan, check_load_options, run_load
from tests.benchmark.scenarios import (
    READY_TIMEOUT,
    STOCK_PER_SKU,
    _say,
    _tree_cpu_s,
    threadcount_env,
    workers_ready,
)
from tests.harness.procs import ServerProcess, free_ports


@dataclass
class Side:
    """One of the two services and what its runs measured."""

    web_workers: int
    shards: int | None  # THREADCOUNT_SHARDS, None: the service's default (the CPU count)
    plan: LoadPlan
    server: ServerProcess
    orders_per_s: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)  # by kind of process, the generator's included
    orders: int = 0

    def run(self) -> None:
        before = _tree_cpu_s(self.server)
        load = run_load(self.plan)
        self.server.check_alive()
        for kind, seconds in _tree_cpu_s(self.server).items():
            self.cpu_s[kind] = self.cpu_s.get(kind, 0.0) + seconds - before.get(kind, 0.0)
        generator = load["generator_cpu_ms_per_order"] * load["ok_total"] / 1000
        self.cpu_s["load generator"] = self.cpu_s.get("load generator", 0.0) + generator
        self.orders += load["ok_total"]
        self.orders_per_s.append(load["orders_per_s"])
        self.p99_ms.append(load["p99_ms"])
        _say(f"{self.label}: {load['orders_per_s']:,.0f} orders/s, p99 {load['p99_ms']} ms, errors {load['errors']}")

    @property
    def label(self) -> str:
        return f"{self.web_workers} web" + ("" if self.shards is None else f" {self.shards} shard(s)")

    def cpu_ms_per_order(self) -> dict[str, float]:
        return {kind: round(seconds * 1000 / max(self.orders, 1), 3) for kind, seconds in sorted(self.cpu_s.items())}


def pair_ratios(first: list[float], second: list[float]) -> dict[str, Any]:
    """Each pair's second over first, and their median and mean."""
    ratios = [b / a for a, b in zip(first, second, strict=True) if a]
    return {"ratios": [round(r, 3) for r in ratios],
            "median": round(statistics.median(ratios), 3) if ratios else None,
            "mean": round(statistics.mean(ratios), 3) if ratios else None}


def _start(stack: contextlib.ExitStack, folder: Path, web_workers: int, shards: int | None,
           args: argparse.Namespace) -> Side:
    folder.mkdir()
    web_port, ingress_port = free_ports(2)
    token = secrets.token_urlsafe(32)
    env = threadcount_env(folder / "data", web_port, ingress_port, token, web_workers=web_workers)
    if shards is not None:
        env["THREADCOUNT_SHARDS"] = str(shards)
    server = ServerProcess(f"threadcount-{web_workers}", [sys.executable, "run.py"], env=env,
                           log_path=folder / "threadcount.log")
    stack.callback(server.stop)
    base = f"http://127.0.0.1:{web_port}"
    server.start()
    server.wait_ready(f"{base}/healthz", READY_TIMEOUT)
    workers_ready(base, web_workers, {})
    skus = asyncio.run(create_catalog(base, token, variants=args.skus, quantity=STOCK_PER_SKU))
    plan = LoadPlan(f"{base}/api/v1/orders", skus, args.clients, args.warmup, args.duration, token, rate=args.rate)
    side = Side(web_workers, shards, plan, server)
    _say(f"threadcount with {side.label}: ready")
    return side


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = pair_parser("tests.benchmark.side_by_side", __doc__, pairs=10)
    parser.add_argument("--web-workers", default="1,2", metavar="A,B", help="the two services' counts (1,2)")
    parser.add_argument("--shards", metavar="A,B", help="the two services' THREADCOUNT_SHARDS (the CPU count)")
    parser.add_argument("--skus", type=int, default=200)
    args = parser.parse_args(argv)
    check_run_options(parser, args)
    args.web_workers = counts(parser, "--web-workers", args.web_workers, exactly=2)
    args.shards = [None, None] if args.shards is None else counts(parser, "--shards", args.shards, exactly=2)
    return args


def pair_parser(module: str, description: str | None, pairs: int) -> argparse.ArgumentParser:
    """A parser with how many pairs of runs and each run's load: shared with tests/benchmark/bare_workers.py."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=pairs)
    parser.add_argument("--duration", type=float, default=6.0, help="measured seconds a run (6)")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds a run (1)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--rate", type=float, help="requests/s over all clients, both the same (as fast as answered)")
    return parser


def check_run_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.pairs < 1:
        parser.error("--pairs needs 1 or more")
    check_load_options(parser, args)


def counts(parser: argparse.ArgumentParser, option: str, text: str, exactly: int | None = None) -> list[int]:
    """An option's counts of 1 or more separated by commas (`exactly` that many), or the parser's error."""
    given = [part.strip() for part in str(text).split(",")]
    if not all(part.isdigit() and int(part) >= 1 for part in given) or len(given) != (exactly or len(given)):
        how_many = "two counts" if exactly == 2 else f"{exactly} counts" if exactly else "counts"
        parser.error(f"{option} needs {how_many} of 1 or more separated by commas, such as 1,2")
    return [int(part) for part in given]


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tc-bench-side-", ignore_cleanup_errors=True) as tmp, \
            contextlib.ExitStack() as stack:
        sides = [_start(stack, Path(tmp, str(at)), count, shards, args)
                 for at, (count, shards) in enumerate(zip(args.web_workers, args.shards, strict=True))]
        for pair in range(args.pairs):
            for side in sides if pair % 2 == 0 else sides[::-1]:
                side.run()
    first, second = sides
    result = {"web_workers": args.web_workers, "shards": args.shards, "pairs": args.pairs,
              **pair_ratios(first.orders_per_s, second.orders_per_s),
              "sides": [{"web_workers": side.web_workers, "shards": side.shards, "orders_per_s": side.orders_per_s, "p99_ms": side.p99_ms,
                         "cpu_ms_per_order": side.cpu_ms_per_order()} for side in sides]}
    share = (f"median {result['median']:.0%}, mean {result['mean']:.0%}" if result["ratios"]
             else "no pair answered")
    print(f"{second.label} against {first.label}, {args.pairs} pairs: {share} (pairs: "
          + ", ".join(f"{r:.0%}" for r in result["ratios"]) + ")")
    for side in sides:
        print(f"  {side.label}: orders/s {', '.join(f'{x:,.0f}' for x in side.orders_per_s)}; CPU ms per order "
              + ", ".join(f"{kind} {ms:.3f}" for kind, ms in side.cpu_ms_per_order().items()))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
