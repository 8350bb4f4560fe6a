"""`python -m tests.harness.ray_probe HOST:PORT`: the GCS's nodes and actors as one JSON object.

Read-only and without `ray.init`: it asks the GCS (with the token from the environment) for its node
and actor tables and prints `{"nodes": [{"id", "ip", "alive"}], "actors": [{"name", "class",
"state", "node_ip", "node_id", "restarts"}]}`; the harness runs it as a child process so the test's
own process never joins (or is configured by) the cluster under test."""

from __future__ import annotations

import json
import sys


def main(address: str) -> None:
    from ray._private.state import GlobalState
    from ray._raylet import GcsClientOptions  # type: ignore[attr-defined]

    state = GlobalState()
    state._initialize_global_state(GcsClientOptions.create(
        address, None, allow_cluster_id_nil=True, fetch_cluster_id_if_nil=False))
    nodes = [{"id": n["NodeID"], "ip": n["NodeManagerAddress"], "alive": bool(n["Alive"])}
             for n in state.node_table()]
    actors = [{"name": a.get("Name", ""), "class": a.get("ActorClassName", ""), "state": a.get("State"),
               "node_ip": a.get("Address", {}).get("IPAddress"), "node_id": a.get("Address", {}).get("NodeID"),
               "restarts": a.get("NumRestarts", 0)}
              for a in state.actor_table(None).values()]
    print(json.dumps({"nodes": nodes, "actors": actors}))


if __name__ == "__main__":
    main(sys.argv[1])
