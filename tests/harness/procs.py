"""Servers under test as child processes: spawn in their own session, wait for ready, measure, stop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServerError(RuntimeError):
    """The server under test did not start, or died."""


def free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (all sockets held open until every port is picked)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


@dataclass(frozen=True)
class Stopped:
    exit_code: int | None
    seconds: float | None  # None: it had exited before it was asked to stop
    killed: bool
    leftover_processes: int


class ServerProcess:
    """One server under test, started as the leader of a new session (and so of a process group)."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self._argv = argv
        self._env = env
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise ServerError(f"{self.name} was never started")
        return self._proc.pid

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self._started_at = time.monotonic()
            self._proc = subprocess.Popen(
                self._argv,
                cwd=REPO_ROOT,
                env=self._env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, url: str, timeout: float, ssl_context: ssl.SSLContext | None = None) -> float:
        """Seconds from spawn until ``url`` answers 200 (an https URL verified with ``ssl_context``)."""
        deadline = self._started_at + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if _answers_ok(url, ssl_context):
                return time.monotonic() - self._started_at
            time.sleep(0.05)
        raise ServerError(
            f"{self.name} was not ready: {url} did not answer 200 within {timeout:.0f} s of start\n"
            f"last lines of its log:\n{self.log_tail()}"
        )

    def check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise ServerError(
                f"{self.name} exited unexpectedly with code {self._proc.returncode}\n"
                f"last lines of its log:\n{self.log_tail()}"
            )

    def tree(self) -> list[psutil.Process]:
        """The server process and every descendant (Ray workers included, whatever their group)."""
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 15.0) -> Stopped | None:
        """SIGTERM the group, wait, SIGKILL on timeout; then kill any descendant left behind."""
        proc = self._proc
        if proc is None:
            return None
        descendants = self.tree()[1:]
        began = time.monotonic()
        killed = False
        exited_by_itself = proc.poll() is not None
        if not exited_by_itself:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                killed = True
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        seconds = None if exited_by_itself else round(time.monotonic() - began, 2)
        leftovers = _reap(descendants, grace=3.0)
        self._proc = None
        return Stopped(proc.returncode, seconds, killed, leftovers)

    def signal_and_wait(self, sig: signal.Signals, timeout: float) -> int | None:
        """Send ``sig`` to the whole group; the exit code, or None if still running after ``timeout``."""
        if self._proc is None:
            raise ServerError(f"{self.name} was never started")
        _signal_group(self._proc.pid, sig)
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def listening(processes: list[psutil.Process]) -> list[tuple[str, str, int]]:
    """(process name, address, port) of every TCP socket these processes LISTEN on."""
    found = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            name = process.name()
            found += [(name, c.laddr.ip, c.laddr.port) for c in process.net_connections("tcp")
                      if c.status == psutil.CONN_LISTEN]
    return found


def _answers_ok(url: str, ssl_context: ssl.SSLContext | None = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0, context=ssl_context) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _reap(processes: list[psutil.Process], grace: float) -> int:
    """Give stragglers ``grace`` seconds to exit on their own, SIGKILL the rest; count the rest."""
    _, alive = psutil.wait_procs(processes, timeout=grace)
    for straggler in alive:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            straggler.kill()
    psutil.wait_procs(alive, timeout=5.0)
    return len(alive)


class RssSampler:
    """Samples the summed resident memory of a server's whole process tree in a background thread."""

    def __init__(self, server: ServerProcess, interval: float = 0.25) -> None:
        self._server = server
        self._interval = interval
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak_bytes = 0
        self.peak_processes = 0

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._halt.set()
        self._thread.join()
        self._sample()

    @property
    def peak_mb(self) -> float:
        return round(self.peak_bytes / 2**20, 1)

    def _run(self) -> None:
        while not self._halt.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        processes = self._server.tree()
        total = 0
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                total += process.memory_info().rss
        if total > self.peak_bytes:
            self.peak_bytes = total
            self.peak_processes = len(processes)
