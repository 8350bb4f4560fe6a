"""The code checks (ruff, mypy, bandit) as the suite runs them: each is a command over the repo, started
in the background at the lowest CPU priority when the session's tests are collected, so it runs in the
time the service tests spend waiting (starts, timeouts, convergence) rather than after them; its test
then only waits for the answer. At nice 19 a check takes the CPU only when nothing else wants it, so
the timed tests around it are not slowed. A check whose test was not collected is not started; one
whose test runs without collection (called directly) runs then, in the foreground."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = ["inventory", "actors", "sync", "connectors", "simulators", "store", "service", "web"]
CHECKS: dict[str, list[str]] = {
    "ruff": [sys.executable, "-m", "ruff", "check", "."],
    "mypy": [sys.executable, "-m", "mypy", *SOURCES, "run.py"],
    "bandit": [sys.executable, "-m", "bandit", "-r", *SOURCES, "-ll", "-q"],
}
LOWEST = ["nice", "-n", "19"]
_running: dict[str, subprocess.Popen[str]] = {}
_results: dict[str, tuple[int, str]] = {}


def start(name: str) -> None:
    """The check under way in the background (once per session)."""
    if name not in _running:
        _running[name] = subprocess.Popen([*LOWEST, *CHECKS[name]], cwd=REPO, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True)


def result(name: str, timeout: float = 280) -> tuple[int, str]:
    """The check's exit status and output: the background run's, or a run now when none was started."""
    if name not in _results:
        start(name)
        process = _running[name]
        out, _ = process.communicate(timeout=timeout)
        _results[name] = (process.returncode, out)
    return _results[name]


def stop_all() -> None:
    """At the session's end: a check still running (its test deselected or failed early) is killed."""
    for process in _running.values():
        if process.poll() is None:
            process.kill()
            process.wait()
    _running.clear()
