"""A Ray cluster of separate hosts on this one machine, with PostgreSQL reachable from every host.

    with multinode_cluster(tmp_path, hosts=3) as cluster:
        cluster.address        # "10.77.0.1:<port>", the GCS, for THREADCOUNT_RAY_ADDRESS
        cluster.database_url   # a fresh database, through the relay on the bridge
        cluster.kill("n1")     # SIGKILL host n1's raylet, workers and every other Ray process of it
        cluster.cut("n2"); cluster.heal("n2")

What it makes (netns.py, ray_nodes.py): a bridge with 10.77.0.1 in the root namespace, where the
Ray head (GCS and a raylet, `--num-cpus 1`) runs; `hosts` network namespaces, each a Ray node of one
CPU at 10.77.0.1k joined with the cluster's token; a TCP relay (tcp_relay.py) on 10.77.0.1 to the
PostgreSQL server on 127.0.0.1, and a new database `tcmn_<random>` on it.

Guarantees: whatever happens inside the block (a failing assertion, an exception, Ctrl-C), on exit
every process of the cluster is SIGKILLed, the relay stopped, the namespaces, veths and bridge
deleted, the database dropped and the nodes' temp folders removed; before it starts it removes what
an earlier run left (stale `tcmn-` namespaces and links, marked processes). `skip_reason` says why
the cluster cannot run here (not root, no `ip`); under CI (`CI` set) callers fail instead of skipping.
The Ray health-check settings (service/ray_start.py's health_env(), what a cluster's every `ray start`
is given) go to every node and to the driver, so a lost node is declared dead in 1-3 s."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from service.ray_start import health_env
from tests.harness import netns
from tests.harness.procs import REPO_ROOT, free_ports
from tests.harness.ray_nodes import RayCluster, kill_marked


def skip_reason() -> str | None:
    return netns.unavailable_reason()


@dataclass
class Cluster:
    ray: RayCluster
    hosts: dict[str, netns.Host]
    database_url: str                  # postgresql+asyncpg://...@10.77.0.1:<relay>/tcmn_...
    admin_dsn: str                     # the same database straight on the server, for the test's reads
    events: list[tuple[float, str]] = field(default_factory=list)   # (monotonic, what was done)

    @property
    def address(self) -> str:
        return self.ray.address

    @property
    def token(self) -> str:
        return self.ray.token

    def driver_env(self) -> dict[str, str]:
        """What run.py needs to join: the address, token, health settings and the database (and the
        cluster's marker, so a driver a crashed test left behind is ended with the cluster)."""
        return {**self.ray.client_env(), "THREADCOUNT_RAY_ADDRESS": self.address,
                "THREADCOUNT_DATABASE_URL": self.database_url, **self.ray.marks("driver")}

    def node_of(self, ip: str) -> str:
        return next((n.name for n in self.ray.nodes.values() if n.address == ip), ip)

    def kill(self, name: str) -> int:
        count = self.ray.kill(name)
        self.events.append((time.monotonic(), f"kill {name} ({count} processes)"))
        return count

    def cut(self, name: str) -> None:
        netns.cut(self.hosts[name])
        self.events.append((time.monotonic(), f"cut {name}"))

    def heal(self, name: str) -> None:
        netns.heal(self.hosts[name])
        self.events.append((time.monotonic(), f"heal {name}"))

    def probe(self) -> dict[str, list[dict[str, object]]]:
        return self.ray.probe()


@contextlib.contextmanager
def multinode_cluster(hosts: int = 3, start_timeout: float = 60) -> Iterator[Cluster]:
    reason = skip_reason()
    if reason is not None:
        raise RuntimeError(reason)
    remove_leftovers()
    run = secrets.token_hex(3)
    root = Path(f"/tmp/tcmn-{run}")   # short: Ray's socket paths live under it (108-byte limit)
    made: list[netns.Host] = []
    relay: subprocess.Popen[str] | None = None
    database: str | None = None
    ray = RayCluster(run, secrets.token_hex(32), root, netns.HEAD_IP, health_env())
    try:
        netns.make_bridge()
        made += [netns.make_host(run, k) for k in range(1, hosts + 1)]
        relay, relay_port = start_relay(ray.marks("relay"))
        database = f"tcmn_{run}_{secrets.token_hex(3)}"
        server = urlsplit(pg_dsn())
        user = server.username or "postgres"
        create_database(database)
        ray.start_head()
        ray.wait_alive(["head"], start_timeout)
        for host in made:
            ray.start_node(host.name, host.address, host.command([]))
        ray.wait_alive([h.name for h in made], start_timeout)
        yield Cluster(ray, {h.name: h for h in made},
                      f"postgresql+asyncpg://{user}@{netns.HEAD_IP}:{relay_port}/{database}",
                      pg_dsn(database))
    finally:
        ray.kill_cluster()
        if relay is not None:
            relay.kill()
            relay.wait()
        for host in made:
            netns.remove_host(host)
        netns.remove_bridge()
        if database is not None:
            drop_database(database)
        keep_gcs_log(root)
        shutil.rmtree(root, ignore_errors=True)


KEPT_LOGS = Path("/tmp/tcmn-last-logs")   # the last cluster's GCS log, to read after a failure


def keep_gcs_log(root: Path) -> None:
    """The head's GCS log says when it declared each node dead: a slow failover starts there."""
    shutil.rmtree(KEPT_LOGS, ignore_errors=True)
    KEPT_LOGS.mkdir(parents=True, exist_ok=True)
    for found in root.glob("head/session_2*/logs/gcs_server.*"):   # not the session_latest link
        with contextlib.suppress(OSError):
            shutil.copy2(found, KEPT_LOGS / f"{found.parent.parent.name}-{found.name}")


def remove_leftovers() -> None:
    """Processes, namespaces and links of earlier runs that did not clean up (killed mid-run)."""
    kill_marked(None)
    netns.remove_stale()
    with contextlib.suppress(Exception):
        for name in asyncio.run(_stale_databases()):
            drop_database(name)
    for folder in Path("/tmp").glob("tcmn-*"):
        shutil.rmtree(folder, ignore_errors=True)


def start_relay(marks: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    port, = free_ports(1)
    server = urlsplit(pg_dsn())
    relay = subprocess.Popen(
        [sys.executable, "-m", "tests.harness.tcp_relay", netns.HEAD_IP, str(port),
         server.hostname or "127.0.0.1", str(server.port or 5432)],
        cwd=REPO_ROOT, env={**os.environ, **marks}, stdout=subprocess.PIPE, text=True,
        start_new_session=True)
    assert relay.stdout is not None
    if relay.stdout.readline().strip() != "ready":
        relay.kill()
        raise RuntimeError("the database relay did not start")
    return relay, port


def pg_dsn(database: str | None = None) -> str:
    from tests.conftest import PG_HOST

    return PG_HOST if database is None else f"{PG_HOST.rsplit('/', 1)[0]}/{database}"


def create_database(name: str) -> None:
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))


def drop_database(name: str) -> None:
    with contextlib.suppress(Exception):
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _stale_databases() -> list[str]:
    import asyncpg

    admin = await asyncpg.connect(pg_dsn())
    try:
        return [r["datname"] for r in await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'tcmn\\_%'")]
    finally:
        await admin.close()


async def _admin(statement: str) -> None:
    import asyncpg

    admin = await asyncpg.connect(pg_dsn())
    try:
        await admin.execute(statement)
    finally:
        await admin.close()
