"""Engine-level figure: reserved order lines per second straight into the stock shards, no HTTP."""

from __future__ import annotations

from typing import Any


def engine_benchmark() -> dict[str, Any] | None:
    """Reserve lines directly through the shard actors and report the rate.

    >>> FOR THE SERVICE ENGINEER: fill this in (import from actors/). <<<
    Return a dict with at least ``"lines_per_s"`` (float); any other keys (``"shards"``,
    ``"batch_size"``, ``"lines"``, ``"seconds"``, ...) are printed beside it. Start and stop whatever
    it needs (Ray, a temporary SQLite file) inside this function: the benchmark calls it in its
    own process after the HTTP runs, when no other Threadcount instance is running.

    Returning None means "not measured": the report says so and carries on.
    """
    return None
