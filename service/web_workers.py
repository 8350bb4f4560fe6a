"""Web workers: `THREADCOUNT_WEB_WORKERS=N` processes serving the web port together.

The first process (the primary, `python run.py`) starts everything as with one; once it is ready it
starts N - 1 workers (`python run.py worker`), each given a listening socket of its own on the web
port, so the kernel spreads new connections over the processes (service/ports.py). A worker joins the
primary's Ray as a second driver and finds the event hub by name; its shard commands go through the
primary's router (service/shard_relay.py), so the shards see one router whatever N. It serves the
routes that scale (web/forward.py: orders, stock, the live stream) and passes the rest to the primary
over a Unix socket.

Why each worker is correct alone:
- Same order, two processes at once: the shards decide. An order on one shard is one command to one
  actor, which applies commands one at a time (the second is a replay); an order over several
  shards is placed on its lowest shard first, which picks its storage key and answers the second
  process as a replay (inventory.desk `_lead_first`).
- Idempotency-Keys, sessions, holds and API keys live in the store, claimed by conditional writes.
- Acknowledge after commit: a worker answers after the shard's answer, which comes after its commit.
The primary keeps what only one process may do: partner connectors, the alert watcher and
notifications, hold expiry, retention, login throttling, the demo.

The primary restarts a worker that dies (after a second), and stops them first at its own stop: each
finishes its requests in flight, then exits. A worker whose primary has gone exits too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PLAN_VARIABLE = "THREADCOUNT_WEB_WORKER"  # the plan a worker process is started with (JSON)
RESTART_DELAY = 1.0  # seconds before a worker that died is started again, doubled while it keeps dying
RESTART_DELAY_MAX = 30.0
LIVED_LONG = 60.0  # seconds: a worker that ran this long is started again after RESTART_DELAY
STOP_WAIT = 10.0  # seconds the workers get to finish their requests at a stop
# At most this many CPUs, a second web process was measured to take fewer orders than one (README,
# "Web workers": the machine is full before one web process is)
FEW_CPUS = 2


@dataclass(frozen=True)
class WorkerPlan:
    """What a worker needs from its primary."""

    index: int  # 1..N-1 (the primary is 0)
    primary_pid: int
    gcs_address: str
    shard_names: list[str]
    socket_path: str  # the primary's Unix socket for the routes a worker passes on
    listen_fd: int  # this worker's socket on the web port, inherited (-1 in the primary's template)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls, text: str) -> WorkerPlan:
        return cls(**json.loads(text))


def private_socket_path() -> Path:
    """A path for the workers' Unix socket in a new folder only this user can enter (short: Unix socket
    paths are limited to about 100 bytes, and a data folder's path can be longer)."""
    return Path(tempfile.mkdtemp(prefix="threadcount-")) / "web.sock"


def unix_listener(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    os.chmod(path, 0o600)
    sock.set_inheritable(False)
    return sock


class WebWorkers:
    """The primary's side: starts, restarts and stops the worker processes."""

    def __init__(self, count: int, command: list[str], base: WorkerPlan,
                 listener: Callable[[], socket.socket]):
        """`listener`: a new socket on the web port for each worker started (ports.join_port)."""
        self._count, self._command, self._base, self._listener = count, command, base, listener
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.restarts = 0

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes.values()]

    def start(self) -> None:
        self._tasks = [asyncio.ensure_future(self._keep(index)) for index in range(1, self._count)]

    async def _keep(self, index: int) -> None:
        """Worker `index`, started again whenever it exits before the stop."""
        wait = 0.0
        while not self._stopping:
            began = time.monotonic()
            # The worker's own socket, closed here once passed on: it lives only as long as the worker
            # does, so connections are not queued for a worker that has died.
            with self._listener() as listener:
                plan = WorkerPlan(**{**asdict(self._base), "index": index, "listen_fd": listener.fileno()})
                process = await asyncio.create_subprocess_exec(
                    *self._command, env={**os.environ, PLAN_VARIABLE: plan.to_env()},
                    pass_fds=(listener.fileno(),), stdin=asyncio.subprocess.DEVNULL)
            self._processes[index] = process
            code = await process.wait()
            if self._stopping:
                return
            self.restarts += 1
            wait = restart_wait(wait, time.monotonic() - began)
            log.warning("web worker %d (pid %d) exited with %s; starting it again in %.0fs", index,
                        process.pid, code, wait)
            await asyncio.sleep(wait)

    async def stop(self, wait: float = STOP_WAIT) -> None:
        """SIGTERM to every worker (each finishes its requests in flight), SIGKILL after `wait`."""
        self._stopping = True
        running = [p for p in self._processes.values() if p.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in running)), wait)
        except TimeoutError:
            for process in running:
                if process.returncode is None:
                    log.warning("web worker pid %d did not stop within %.0fs: killed", process.pid, wait)
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def restart_wait(last: float, lived: float) -> float:
    """Seconds before a worker that exited is started again: RESTART_DELAY after one that ran a
    while, doubled up to RESTART_DELAY_MAX while it keeps dying at once (a worker that cannot start
    does not spin)."""
    if lived > LIVED_LONG or last == 0:
        return RESTART_DELAY
    return min(last * 2, RESTART_DELAY_MAX)


def few_cpus_warning(workers: int, cpus: int | None) -> str | None:
    """What the log says at start when `workers` web processes run on a machine of `cpus` CPUs too
    small to gain from them; None when there is nothing to say."""
    if workers <= 1 or cpus is None or cpus > FEW_CPUS:
        return None
    return (f"{workers} web processes on {cpus} CPU{'s' if cpus > 1 else ''}: on a machine this small a "
            "second web process was measured to take 5-13% fewer orders a second than one, unless hundreds "
            "of dashboards are open (README, \"Web workers\"); THREADCOUNT_WEB_WORKERS=1 is otherwise the "
            "faster setting here")


def worker_command(config: Path) -> list[str]:
    run_py = Path(__file__).resolve().parents[1] / "run.py"
    return [sys.executable, str(run_py), "worker", "--config", str(config)]


async def watch_primary(primary_pid: int, stop: asyncio.Event, every: float = 1.0) -> None:
    """In a worker: sets `stop` once the primary is gone (this process was handed to another parent)."""
    while not stop.is_set():
        if os.getppid() != primary_pid:
            log.warning("the primary web process (pid %d) is gone: this worker stops", primary_pid)
            stop.set()
            return
        await asyncio.sleep(every)
