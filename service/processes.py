"""Finding and ending the processes a service started: Ray's own and its workers, and the partner
simulators, all marked by an environment variable they inherit from the service."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

OWNER_VARIABLE = "THREADCOUNT_OWNER"


def owned_processes(owner: str) -> list[int]:
    """Every other process that inherited our owner mark: Ray's own processes and all its workers
    (they inherit the driver's environment through the raylet), and the partner simulators."""
    mark = f"{OWNER_VARIABLE}={owner}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def end_processes(pids: list[int], grace: float = 0.5) -> None:
    """Shard workers live in process groups of their own: when Ray's own processes died with ours,
    nobody else would end them (and a worker whose raylet is gone may not act on SIGTERM). By now
    everything acknowledged is committed, so what is still running after `grace` is killed."""
    alive = list(pids)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [pid for pid in alive if _signal(pid, sig)]  # only those still there: pids get reused
        deadline = time.monotonic() + grace
        while alive and time.monotonic() < deadline:
            time.sleep(0.05)
            alive = [pid for pid in alive if _signal(pid, 0) and not _zombie(pid)]
        if not alive:
            return


def end_now(processes: list[subprocess.Popen[bytes]]) -> None:
    """SIGKILL, for processes that keep nothing of ours (Ray's GCS and raylet take a second or more to
    act on a SIGTERM once their peers are gone). Through Popen, which signals none already waited for
    (its pid may be another process's by now)."""
    for process in processes:
        process.kill()


def ray_node_processes() -> list[subprocess.Popen[bytes]] | None:
    """The processes of the local Ray this process started (its GCS, raylet, agents), or None when
    that is not knowable."""
    try:
        import ray

        node: Any = ray._private.worker.global_worker.node
        return [info.process for infos in node.all_processes.values() for info in infos]
    except Exception:
        return None


def _zombie(pid: int) -> bool:
    """The process has ended and only waits for its parent to read its exit status: Ray's own
    processes, children of this one, are such once a signal to the group ended them, and a signal
    still "reaches" them."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False  # gone (then the signal says so), or no /proc here
    return stat[stat.rfind(b")") + 2:][:1] == b"Z"  # the state follows the name, which may hold ")"


def _signal(pid: int, sig: int) -> bool:
    """Send `sig`; False when there is no such process (any more)."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def shutdown_ray(wait: float) -> None:
    """ray.shutdown() in a thread of its own, waited for at most `wait` seconds: with Ray's own
    processes already gone it would wait much longer."""
    import ray

    done = threading.Event()

    def shutdown() -> None:
        ray.shutdown()
        done.set()

    threading.Thread(target=shutdown, name="ray-shutdown", daemon=True).start()
    await asyncio.to_thread(done.wait, wait)
