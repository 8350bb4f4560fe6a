"""Python's cyclic garbage collector in a long-lived process of the service.

What a process builds while it starts (Ray, SQLAlchemy, the app, a shard's book) lives as long as the
process, and every full pass of the collector walks all of it. A web process answering a thousand
orders a second allocates enough to run the young generation's pass every few milliseconds and a full
pass every second or so: a web worker without this spent a quarter of its main thread in the
collector (py-spy, two web processes under the benchmark's load), against none in the primary, which
had it."""

from __future__ import annotations

import gc

# The young generation is collected after this many allocations net of frees (Python's default: 700),
# the older two after 20 and 100 passes of the one below (10 and 10).
THRESHOLDS = (50_000, 20, 100)


def settle_after_start() -> None:
    """Once the process has started: move what exists out of the collector's sight (it is still freed
    by reference counting when let go) and collect the young generation less often. Full collections
    had been the tail of the order latency."""
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
