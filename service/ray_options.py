"""Ray settings that keep a long-running service's memory bounded.

Ray records every task and actor call as "task events" for its dashboard and state API (`ray list
tasks`, `ray timeline`): each worker buffers them and reports them every second to the GCS, which keeps
the newest 100,000 task attempts (`task_events_max_num_task_in_gcs`). Every order batch, hub push,
partner call and metrics scrape is an actor call, so under load the GCS filled that store in about 6
minutes and grew from 74 to 357 MB before it levelled off (`python -m tests.benchmark --soak 600`).
Threadcount reads none of it (its own logs, metrics and traces say what the actors do), so the
recording is off: `task_events_report_interval_ms = 0` stops it in every worker and the GCS alike.

`memory_options()` is the `_system_config` an embedded Ray (`ray.address: local`) is started with. A
process joining a cluster cannot pass `_system_config`: there the same settings go to `ray start` as
environment variables (`memory_env()`, README "Memory over a long run"). A setting already in the
environment as `RAY_<name>` is left out, so an operator can turn the recording back on for debugging
(`RAY_task_events_report_interval_ms=1000`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# name -> value, as Ray's ray_config_def.h spells them
MEMORY: dict[str, int] = {
    "task_events_report_interval_ms": 0,  # no task events recorded, buffered or sent to the GCS
}


def memory_options(env: Mapping[str, str] | None = None) -> dict[str, int]:
    """The `_system_config` entries for an embedded Ray; those the environment sets are left to it."""
    env = os.environ if env is None else env
    return {name: value for name, value in MEMORY.items() if f"RAY_{name}" not in env}


def memory_env() -> dict[str, str]:
    """The same settings as environment variables, for `ray start` on every node of a cluster."""
    return {f"RAY_{name}": str(value) for name, value in MEMORY.items()}
