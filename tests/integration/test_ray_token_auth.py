"""Ray as the service runs it (the session's Ray, set up by service.ray_security like run.py's): its
GCS refuses a client without the cluster's token, takes one with it, and listens on loopback only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

# a bare GCS client in a fresh process: what anyone on the network could try against Ray's port
PROBE = """
import sys
from ray._raylet import GcsClient
try:
    GcsClient(address=sys.argv[1])
except Exception as exc:
    print(type(exc).__name__, str(exc)[:200])
    sys.exit(3)
print("accepted")
"""


def probe(gcs_address: str, **auth: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH_")}
    env.update(auth)
    return subprocess.run([sys.executable, "-c", PROBE, gcs_address], env=env, capture_output=True,
                          text=True, timeout=60)


def gcs_address(ray: Any) -> str:
    return str(ray._private.worker.global_worker.node.gcs_address)


def the_token() -> str:
    return Path(os.environ["RAY_AUTH_TOKEN_PATH"]).read_text().strip()


def test_a_client_without_the_ray_token_is_refused_by_the_gcs(ray_session: Any) -> None:
    done = probe(gcs_address(ray_session))
    assert done.returncode == 3, done.stdout + done.stderr
    assert "AuthenticationError" in done.stdout and "InvalidAuthToken" in done.stdout


def test_a_client_with_a_wrong_ray_token_is_refused_by_the_gcs(ray_session: Any) -> None:
    done = probe(gcs_address(ray_session), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN="not-the-token")
    assert done.returncode == 3, done.stdout + done.stderr
    assert "AuthenticationError" in done.stdout


def test_a_client_with_the_ray_token_is_accepted_by_the_gcs(ray_session: Any) -> None:
    done = probe(gcs_address(ray_session), RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=the_token())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "accepted" in done.stdout


def test_the_generated_ray_token_is_readable_by_its_owner_only(ray_session: Any) -> None:
    assert Path(os.environ["RAY_AUTH_TOKEN_PATH"]).stat().st_mode & 0o777 == 0o600
    assert len(the_token()) >= 32


def test_the_embedded_ray_listens_on_loopback_only(ray_session: Any) -> None:
    @ray_session.remote
    def worker_pid() -> int:
        return os.getpid()

    ray_session.get(worker_pid.remote())  # at least one worker up
    assert gcs_address(ray_session).startswith("127.0.0.1:")
    me = psutil.Process()
    listening = [(p.name(), c.laddr.ip, c.laddr.port)
                 for p in [me, *me.children(recursive=True)] if p.pid == me.pid or "ray" in _command(p)
                 for c in _listening(p)]
    assert listening, "Ray's processes listen somewhere"
    assert all(_loopback(ip) for _, ip, _ in listening), listening


def _command(process: psutil.Process) -> str:
    """The process's command line, lower case; "" for one that ended meanwhile (another test's child
    that is gone, or ended and not yet waited for)."""
    try:
        return " ".join(process.cmdline()).lower()
    except (psutil.NoSuchProcess, psutil.AccessDenied):  # ZombieProcess is a NoSuchProcess
        return ""


def _listening(process: psutil.Process) -> list[Any]:
    try:
        return [c for c in process.net_connections("inet") if c.status == psutil.CONN_LISTEN]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def _loopback(ip: str) -> bool:
    return ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1")
