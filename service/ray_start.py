"""Starting (or joining) Ray, and sizing and placing the actors from what the cluster has.

- Health checks (HEALTH_CHECKS; health_env() gives them as the RAY_<name> variables of `ray start`
  on every node of a cluster, README: Joining a cluster): the GCS asks each node every 500 ms,
  gives each check 500 ms and declares the node dead after 3 failures in a row. A check waits for
  its answer, then the period: a node cut off the network costs each check timeout + period, so it
  is declared dead 2.5-3 s after it stops answering; a killed one refuses each check at once and is
  declared dead in 1-1.5 s. Ray 2.60's defaults (3000 ms, 10000 ms, 5) take 15-65 s. The price: a
  node that cannot answer for 2.5 s in a row (a machine so loaded its raylet gets no CPU) is
  declared dead and its actors restarted elsewhere (safe, the store fences the old ones, but a
  failover for nothing); the figures measured are in README (How it works: Failover). A Ray this
  service starts itself has one node and nowhere to fail over to: it keeps Ray's defaults, since
  fast checks there could only declare that node dead.
- Shard count: `settings.shards` (THREADCOUNT_SHARDS / ray.shards, else this machine's CPUs) for a
  local Ray; in a cluster, unless set explicitly, one shard per CPU of the whole cluster, at least 1.
  A different count from one run to the next is safe: each shard loads from the store what it owns
  under the count of its run, and the store keeps no shard number (store/shard_epochs.py fences
  every shard of an earlier run, of whatever count, at start).
- Placement: in a cluster the shards go round-robin to the alive nodes that offer CPUs, no node
  starting with more than ceil(shards / nodes) (soft node affinity), each asking for PLACEMENT_CPUS.
  The shard, hub and connector classes ask for none (num_cpus=0), and Ray 2.60 puts an actor that
  asks for no resources on a random node whatever its strategy, unless the affinity is hard (the
  zero-resource case of ClusterResourceScheduler::GetBestSchedulableNode): soft affinity alone was
  measured to place 4 shards on 2-3 of 4 nodes, 0-1 of them where asked. A hard affinity would keep
  a shard from restarting once its node is lost; with the CPU share, Ray honours the soft one, and a
  shard whose node is lost restarts where Ray finds that share free (first the driver's node, if it
  offers CPUs). The partner connectors are placed the same way (the i-th to the i-th node). A local
  Ray keeps Ray's default placement and the classes' num_cpus=0."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from service.config import Settings
from service.processes import OWNER_VARIABLE
from service.ray_options import memory_options
from service.ray_security import secure_ray

# Ray's names (src/ray/common/ray_config_def.h, checked against the gcs_server binary of Ray 2.60)
# The CPU share a shard asks for in a cluster, so that Ray keeps its soft node affinity (module
# docstring); a thousand shards fit in one CPU, and every shard's work is left to the OS to share.
PLACEMENT_CPUS = 0.001

HEALTH_CHECKS: dict[str, int] = {
    "health_check_period_ms": 500,
    "health_check_timeout_ms": 500,
    "health_check_failure_threshold": 3,
}


def health_env() -> dict[str, str]:
    """HEALTH_CHECKS as the variables `ray start` reads (RAY_<name>), for every node of a cluster."""
    return {f"RAY_{name}": str(value) for name, value in HEALTH_CHECKS.items()}


def init_ray(settings: Settings, owner: str) -> None:
    """ray.init for this service: a new local Ray (marked with `owner`), or the cluster's."""
    import ray

    address = settings.ray_address
    # Ray's own warnings at start and stop (its SIGTERM handler, the tokens) stay out of our
    # stderr, and so do the workers' lines: each actor writes DATA_DIR/logs/<actor>.log itself,
    # and its stderr is in Ray's session folder (README: Logs).
    options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False,
                               "namespace": "threadcount"}
    # token authentication always; an embedded Ray on loopback only
    options.update(secure_ray(settings.data_dir, local=address == "local"))
    if address == "local":
        # Marks every process this Ray starts, so a stop can find workers whose pid it never
        # learned (an actor still starting when the process group was signalled).
        os.environ[OWNER_VARIABLE] = owner
        # Ray's task events off: they grew its GCS by ~200 MB under load (service/ray_options.py)
        options.update(include_dashboard=False, num_cpus=os.cpu_count(),
                       _system_config=memory_options())
        # Ray starts workers at nice 15; the shards are the critical path, not background work.
        os.environ.setdefault("RAY_worker_niceness", "0")
    ray.init(address=address, **options)


def cluster_shard_count(resources: Mapping[str, float]) -> int:
    """One shard per CPU of the cluster (ray.cluster_resources()), rounded, at least 1."""
    return max(1, round(float(resources.get("CPU", 0))))


def shard_count(settings: Settings) -> int:
    """How many stock shards this run starts (after init_ray)."""
    if settings.ray_address == "local" or settings.shards_given:
        return settings.shards
    import ray

    return cluster_shard_count(ray.cluster_resources())


def placement(settings: Settings, index: int = 0, nodes: Sequence[str] = ()) -> dict[str, Any]:
    """Actor options that spread a kind of actor across the cluster's nodes (none for a local Ray):
    the `index`-th actor goes to nodes[index % len(nodes)] (`spread_nodes`), softly, so an actor
    restarted after its node was lost goes wherever Ray finds room, and asks for PLACEMENT_CPUS,
    without which Ray ignores the affinity (module docstring); without nodes, Ray's SPREAD."""
    if settings.ray_address == "local":
        return {}
    if not nodes:
        return {"scheduling_strategy": "SPREAD"}
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    return {"scheduling_strategy": NodeAffinitySchedulingStrategy(nodes[index % len(nodes)], soft=True),
            "num_cpus": PLACEMENT_CPUS}


def spread_nodes(settings: Settings) -> list[str]:
    """The alive nodes that offer CPUs, in a stable order: where the shards go, one after another.
    None if no node offers CPUs (a shard's CPU share would fit nowhere; `placement` then asks for
    SPREAD and no CPU)."""
    if settings.ray_address == "local":
        return []
    import ray

    return sorted(str(node["NodeID"]) for node in ray.nodes()
                  if node.get("Alive") and node.get("Resources", {}).get("CPU", 0) > 0)
