"""python -m tests.benchmark: baseline vs Threadcount under the same order load, in one run, then the
partner sync (demo mode, every partner simulator): initial sync, propagation latency, shopper orders
in from each partner, coalescing under a burst, and a restart until every simulator agrees again;
last, fixed buffers against `buffer: auto` in a simulated sales burst (tests/benchmark/buffers.py).
`--soak SECONDS` runs only the soak instead: memory of every process over a long hostile session
(tests/benchmark/soak.py).

Prints a comparison table, then the same figures as one JSON line (the last line of stdout).
Progress goes to stderr. Exit status 1 when a measured part failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import traceback
from collections.abc import Callable
from functools import partial
from typing import Any, NoReturn

from tests.benchmark.buffers import compare as compare_buffers
from tests.benchmark.engine import engine_benchmark
from tests.benchmark.report import as_json_line, render
from tests.benchmark.scenarios import Settings, run_baseline, run_threadcount
from tests.benchmark.side_by_side import counts
from tests.benchmark.soak import render_soak, run_soak
from tests.benchmark.sync import run_sync
from tests.benchmark.sync_orders import ORDERS_PER_PARTNER


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before measuring (2)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (64)")
    parser.add_argument("--skus", type=int, default=200, help="variants the orders spread over (200)")
    parser.add_argument("--streams", type=int, default=0, metavar="N",
                        help="also run the load with N dashboard streams open (0: not)")
    parser.add_argument("--plain-streams", action="store_true",
                        help="the streams do not offer deflate, so they get the bytes uncompressed")
    parser.add_argument("--web-workers", default="1", metavar="N[,N...]",
                        help="THREADCOUNT_WEB_WORKERS for the Threadcount run; several (1,2) run it once each, "
                             "the first as `threadcount`, the others compared with it (1)")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run the naive baseline")
    parser.add_argument("--skip-threadcount", action="store_true", help="do not run Threadcount")
    parser.add_argument("--skip-engine", action="store_true", help="do not run engine_benchmark()")
    parser.add_argument("--skip-sync", action="store_true", help="do not run the partner-sync scenario")
    parser.add_argument("--skip-buffers", action="store_true",
                        help="do not run the buffer comparison (a simulation, about 10 s)")
    parser.add_argument("--buffers-only", action="store_true",
                        help="only the buffer comparison: fixed 0, fixed 3 and auto in a simulated sales burst")
    parser.add_argument("--sync-only", action="store_true",
                        help="only the partner-sync scenario (= --skip-baseline --skip-threadcount --skip-engine)")
    parser.add_argument("--partner-orders", type=int, default=ORDERS_PER_PARTNER, metavar="N",
                        help=f"shopper orders at each simulator in the partner-sync run ({ORDERS_PER_PARTNER}; "
                             "0: none)")
    parser.add_argument("--skip-restart", action="store_true",
                        help="partner sync without the restart at its end")
    parser.add_argument("--otlp", action="store_true",
                        help="Threadcount with traces on: OTEL_EXPORTER_OTLP_ENDPOINT points at a local "
                             "receiver that discards them (without it any inherited endpoint is dropped: "
                             "traces off); sample with OTEL_TRACES_SAMPLER, which is passed on")
    parser.add_argument("--soak", type=float, default=None, metavar="SECONDS",
                        help="only the soak: demo mode with every simulator and shopper, the order load and "
                             "hostile traffic for SECONDS; memory per kind of process, start -> end (with "
                             "the first --web-workers count)")
    args = parser.parse_args(argv)
    args.web_workers = counts(parser, "--web-workers", args.web_workers)
    if args.soak is not None and args.soak <= 0:
        parser.error("--soak needs a positive number of seconds")
    if args.duration <= 0 or args.warmup < 0 or args.clients < 1 or args.skus < 1 or args.streams < 0:
        parser.error("--duration, --clients and --skus must be positive, --warmup non-negative")
    if args.partner_orders < 0:
        parser.error("--partner-orders must be 0 or more")
    if args.sync_only and args.skip_sync:
        parser.error("--sync-only and --skip-sync leave nothing to run")
    if args.sync_only:
        args.skip_baseline = args.skip_threadcount = args.skip_engine = args.skip_buffers = True
    if args.buffers_only:
        if args.skip_buffers or args.sync_only:
            parser.error("--buffers-only with --skip-buffers or --sync-only leaves nothing to run")
        args.skip_baseline = args.skip_threadcount = args.skip_engine = args.skip_sync = True
    return args


def _exit_on_sigterm(signum: int, frame: object) -> NoReturn:
    # SystemExit unwinds through every finally, which stops the servers we started.
    raise SystemExit(128 + signum)


def _attempt(name: str, run: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The figures ``run`` recorded, plus ``error`` (message and notes) when it raised."""
    result: dict[str, Any] = {}
    try:
        run(result)
    except Exception as exc:
        print(f"{name} failed:", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
        notes = "".join(f"\n{note}" for note in getattr(exc, "__notes__", []))
        result["error"] = f"{type(exc).__name__}: {exc}{notes}"[:4000]
    return result


def _engine(result: dict[str, Any]) -> None:
    figures = engine_benchmark()
    if figures is None:
        result["not_measured"] = True
    else:
        result.update(figures)


def _soak(seconds: float, clients: int, skus: int, web_workers: int) -> int:
    result = _attempt("soak", partial(run_soak, seconds, clients=clients, skus=skus, web_workers=web_workers))
    print(render_soak(seconds, result))
    print(as_json_line({"soak": result}), flush=True)
    return 1 if "error" in result else 0


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if args.soak is not None:
        return _soak(args.soak, args.clients, args.skus, args.web_workers[0])
    settings = Settings(clients=args.clients, warmup=args.warmup, duration=args.duration, skus=args.skus,
                        streams=args.streams, otlp=args.otlp, web_workers=args.web_workers[0],
                        plain_streams=args.plain_streams)
    engine_skipped = args.skip_threadcount or args.skip_engine
    record: dict[str, Any] = {
        "settings": {**vars(settings), "cpus": os.cpu_count(), "engine_skipped": engine_skipped}
    }
    record["baseline"] = None if args.skip_baseline else _attempt("baseline", partial(run_baseline, settings))
    record["threadcount"] = (
        None if args.skip_threadcount else _attempt("threadcount", partial(run_threadcount, settings))
    )
    record["workers"] = [  # in the order given: 1,2,1,2 interleaves runs on a shared machine
        _attempt(f"threadcount with {n} web workers",
                 partial(run_threadcount, dataclasses.replace(settings, web_workers=n)))
        for n in ([] if args.skip_threadcount else args.web_workers[1:])
    ]
    record["engine"] = None
    if not engine_skipped:
        engine = _attempt("engine", _engine)
        record["engine"] = None if engine.get("not_measured") else engine
    sync = partial(run_sync, partner_orders_each=args.partner_orders, restart=not args.skip_restart)
    record["sync"] = None if args.skip_sync else _attempt("sync", sync)
    record["buffers"] = None if args.skip_buffers else _attempt("buffers", lambda r: r.update(compare_buffers()))
    print(render(record))
    print(as_json_line(record), flush=True)
    parts = ("baseline", "threadcount", "engine", "sync", "buffers")
    failed = any(isinstance(record[k], dict) and "error" in record[k] for k in parts)
    failed = failed or any("error" in result for result in record["workers"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
