"""The order load again, with N dashboard streams open (tests/benchmark/streams.py in its own process):
orders/s beside the run without streams, and stock change -> every stream latency."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from tests.benchmark.load import LoadPlan, run_load
from tests.benchmark.streams import PASSWORD_ENV, TOKEN_ENV
from tests.harness.procs import REPO_ROOT

CONNECT_TIMEOUT = 120.0


def run_with_streams(plan: LoadPlan, count: int, marker: str, available: int, password: str,
                     measure: Callable[[LoadPlan], dict[str, Any]] = run_load, plain: bool = False) -> dict[str, Any]:
    """The load's figures with `count` streams open (`measure` runs the load: the server's CPU can be
    sampled around it), and the streams' own figures under "streams"."""
    base = plan.url.split("/api/", 1)[0]
    argv = [sys.executable, "-m", "tests.benchmark.streams", "--base", base, "--streams", str(count),
            "--marker", marker, "--available", str(available), *(["--plain"] if plain else [])]
    env = {**os.environ, TOKEN_ENV: plan.token or "", PASSWORD_ENV: password}
    started = time.monotonic()
    child = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None and child.stderr is not None
        first = child.stdout.readline()  # "connected N", or nothing when it failed
        if not first.startswith("connected"):
            raise RuntimeError(f"stream clients failed to connect: {first!r} {child.stderr.read()[-2000:]}")
        opened = round(time.monotonic() - started, 2)
        load = measure(plan)
        loaded = round(time.monotonic() - started, 2)
        out, err = child.communicate(input="", timeout=CONNECT_TIMEOUT)  # stdin closed: probes stop
        lines = out.strip().splitlines()
        if child.returncode != 0 or not lines:
            raise RuntimeError(f"stream clients failed (exit {child.returncode}):\n{err[-2000:]}")
        return {**load, "streams": {**json.loads(lines[-1]), "open_all_s": opened, "open_to_load_end_s": loaded}}
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
