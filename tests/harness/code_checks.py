"""The code checks (ruff, mypy, bandit) as the suite runs them: each is a command over the repo, started
in the background at the lowest CPU priority when the session's tests are collected, so it runs in the
time the service tests spend waiting (starts, timeouts, convergence) rather than after them; its test
then only waits for the answer. At nice 19 a check takes the CPU only when nothing else wants it, so
the timed tests around it are not slowed. A thread reads each check's output as it comes and waits for
its end, so a finished check leaves no zombie among the session's children. A check whose test was not
collected is not started; one whose test runs without collection (called directly) runs then."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SOURCES = ["inventory", "actors", "sync", "connectors", "simulators", "store", "service", "web"]
CHECKS: dict[str, list[str]] = {
    "ruff": [sys.executable, "-m", "ruff", "check", "."],
    "mypy": [sys.executable, "-m", "mypy", *SOURCES, "run.py"],
    "bandit": [sys.executable, "-m", "bandit", "-r", *SOURCES, "-ll", "-q"],
}
LOWEST = ["nice", "-n", "19"]


class Check:
    def __init__(self, argv: list[str]):
        self.process = subprocess.Popen([*LOWEST, *argv], cwd=REPO, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)
        self.output = ""
        self._reader = threading.Thread(target=self._read, name="code-check", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        self.output, _ = self.process.communicate()

    def result(self, timeout: float) -> tuple[int, str]:
        self._reader.join(timeout)
        if self._reader.is_alive():
            raise TimeoutError(f"{self.process.args} did not finish within {timeout:.0f} s")
        return self.process.returncode, self.output


_checks: dict[str, Check] = {}


def start(name: str) -> None:
    """The check under way in the background (once per session)."""
    if name not in _checks:
        _checks[name] = Check(CHECKS[name])


def result(name: str, timeout: float = 280) -> tuple[int, str]:
    """The check's exit status and output: the background run's, or a run now when none was started."""
    start(name)
    return _checks[name].result(timeout)


def stop_all() -> None:
    """At the session's end: a check still running (its test deselected or failed early) is killed."""
    for check in _checks.values():
        if check.process.poll() is None:
            check.process.kill()
            check.process.wait()
    _checks.clear()
