"""Ray nodes for the multi-node harness: a head in the root namespace, one node per host namespace.

Every node is `ray start ... --block` with token authentication (`RAY_AUTH_MODE=token` and the
cluster's `RAY_AUTH_TOKEN`, as README's "Ray: token authentication" asks of every node), the Ray
health-check settings the caller gives (the failover work sets them on every `ray start`), its own
`--temp-dir` and two markers in its environment, `TCMN_CLUSTER` and `TCMN_NODE`. Every process Ray
starts on that node (GCS, raylet, agents, workers) inherits the markers, so a node's processes are
found by reading /proc/<pid>/environ, whoever their parent is now: `kill` SIGKILLs exactly one node
(raylet, workers, everything), `kill_cluster` everything the cluster ever started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from tests.harness.procs import REPO_ROOT, free_ports

CLUSTER_MARK = "TCMN_CLUSTER"
NODE_MARK = "TCMN_NODE"
RAY = [sys.executable, "-m", "ray.scripts.scripts"]


# Not passed on to a node, the probe or the driver: the test process's own Ray settings, and the
# single-machine switch an embedded Ray (service/ray_security.py) sets in whatever process made one,
# with which `ray start --address` refuses to join ("Multi-node Ray clusters are not supported").
NOT_INHERITED = ("THREADCOUNT_", "RAY_AUTH_", "RAY_ADDRESS", "TCMN_", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")


@dataclass
class RayNode:
    name: str                      # "head", "n1", ...
    address: str                   # its node IP
    temp_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    killed_at: float | None = None


@dataclass
class RayCluster:
    """The cluster's shared settings: who it is (`run`), its token, its GCS port, the env of every node."""

    run: str
    token: str
    root: Path
    head_ip: str
    health_env: dict[str, str]
    gcs_port: int = field(default_factory=lambda: free_ports(1)[0])
    nodes: dict[str, RayNode] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.head_ip}:{self.gcs_port}"

    def env(self, node: str) -> dict[str, str]:
        """The environment of one node's `ray start` (and so of every process of that node)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
        env.update(self.health_env)
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token, RAY_worker_niceness="0",
                   PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1", **self.marks(node))
        return env

    def marks(self, node: str) -> dict[str, str]:
        """The markers that make a process this cluster's (`node`: its node, or driver, relay)."""
        return {CLUSTER_MARK: self.run, NODE_MARK: node}

    def client_env(self) -> dict[str, str]:
        """What a driver (run.py, the probe) needs to join: the token, the mode, the health settings."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token, **self.health_env}

    def start_head(self) -> RayNode:
        agent_port, = free_ports(1)
        return self._start("head", self.head_ip, [
            "--head", "--port", str(self.gcs_port), "--include-dashboard=false",
            "--dashboard-agent-listen-port", str(agent_port)], wrap=None)

    def start_node(self, name: str, address: str, wrap: list[str]) -> RayNode:
        """A worker node; `wrap` prefixes the command (`ip netns exec <netns>`)."""
        return self._start(name, address, ["--address", self.address], wrap=wrap)

    def _start(self, name: str, address: str, extra: list[str], wrap: list[str] | None) -> RayNode:
        temp = self.root / name
        temp.mkdir(parents=True, exist_ok=True)
        node = RayNode(name, address, temp, self.root / f"{name}.log")
        argv = [*RAY, "start", *extra, "--node-ip-address", address, "--num-cpus", "1",
                "--disable-usage-stats", "--temp-dir", str(temp),
                # worker ports picked by the system: a fixed range may be taken on the head's side
                "--min-worker-port", "0", "--max-worker-port", "0", "--block"]
        with node.log_path.open("wb") as log:
            node.proc = subprocess.Popen([*(wrap or []), *argv], env=self.env(name), cwd=REPO_ROOT,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.nodes[name] = node
        return node

    def wait_alive(self, names: list[str], timeout: float) -> None:
        """Until the GCS lists every named node alive (raises with the nodes' log tails if not)."""
        deadline = time.monotonic() + timeout
        wanted = {self.nodes[n].address for n in names}
        alive: set[str] = set()
        while time.monotonic() < deadline:
            for node in (self.nodes[n] for n in names):
                if node.proc is not None and node.proc.poll() is not None:
                    raise RuntimeError(f"ray node {node.name} exited: {_tail(node.log_path)}")
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError, ValueError):
                alive = {str(n["ip"]) for n in self.probe(timeout=10)["nodes"] if n["alive"]}
                if wanted <= alive:
                    return
            time.sleep(0.5)
        tails = "\n".join(f"--- {n}:\n{_tail(self.nodes[n].log_path)}" for n in names)
        raise RuntimeError(f"ray nodes not alive within {timeout:.0f} s (alive: {sorted(alive)})\n{tails}")

    def probe(self, timeout: float = 15) -> dict[str, list[dict[str, object]]]:
        """The GCS's view, read-only: nodes (id, ip, alive) and actors (name, state, node ip)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(NOT_INHERITED)}
        env.update(self.client_env(), PYTHONPATH=str(REPO_ROOT))
        done = subprocess.run([sys.executable, "-m", "tests.harness.ray_probe", self.address],
                              env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"ray probe failed: {done.stderr[-2000:]}")
        result: dict[str, list[dict[str, object]]] = json.loads(done.stdout)
        return result

    def kill(self, name: str) -> int:
        """SIGKILL every process of one node at once (`ray start`, raylet, agents, workers); how many."""
        victims = marked_processes(self.run, name)
        for process in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        self.nodes[name].killed_at = time.monotonic()
        return len(victims)

    def kill_cluster(self) -> int:
        return kill_marked(self.run)


def marked_processes(run: str | None, node: str | None = None) -> list[psutil.Process]:
    """Processes carrying the markers: of one run (None: of any run) and, if given, one node."""
    found = []
    me = os.getpid()
    for process in psutil.process_iter():
        if process.pid == me:
            continue
        try:
            env = process.environ()
        except (psutil.Error, OSError):
            continue
        if CLUSTER_MARK not in env or (run is not None and env[CLUSTER_MARK] != run):
            continue
        if node is None or env.get(NODE_MARK) == node:
            found.append(process)
    return found


def kill_marked(run: str | None) -> int:
    """SIGKILL the processes of a run (None: of every run, for leftovers of a crashed one)."""
    victims = marked_processes(run)
    for process in victims:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.send_signal(signal.SIGKILL)
    psutil.wait_procs(victims, timeout=5)
    return len(victims)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
