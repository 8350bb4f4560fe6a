"""What one Ray actor call costs on this machine, apart from any work: an async actor whose method
returns its argument (2 KB of bytes, about a batch of 15 pickled orders), called from an async driver
one at a time and 8 at a time. CPU seconds of the driver and of the actor's process per call, and
calls a second. Run alone: `python -m tests.benchmark.ray_calls` (it starts a local Ray of its own).

Why it is worth knowing: every shard call, every publish to the hub and every listener's wake-up is
such a call, and on this 2-core machine it was measured at 0.5-2 ms of CPU on each side, more than a
shard's work for a batch; fewer, bigger calls is where Threadcount's speed is (README: Web workers)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import psutil

CALLS = 2000
PAYLOAD = b"x" * 2000


class Echo:
    async def echo(self, payload: bytes) -> bytes:
        return payload

    def pid(self) -> int:
        return os.getpid()


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def _measure(actor: Any, actor_process: psutil.Process, in_flight: int) -> dict[str, float]:
    me = psutil.Process()

    async def caller() -> None:
        for _ in range(CALLS // in_flight):
            await actor.echo.remote(PAYLOAD)

    driver0, actor0, began = _cpu(me), _cpu(actor_process), time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(in_flight)))
    seconds = time.perf_counter() - began
    return {"in_flight": in_flight, "calls_per_s": round(CALLS / seconds),
            "driver_us_per_call": round((_cpu(me) - driver0) / CALLS * 1e6),
            "actor_us_per_call": round((_cpu(actor_process) - actor0) / CALLS * 1e6)}


async def _run() -> list[dict[str, float]]:
    import ray

    actor: Any = ray.remote(num_cpus=0)(Echo).remote()
    await actor.echo.remote(PAYLOAD)  # started and warm
    actor_process = psutil.Process(await actor.pid.remote())
    return [await _measure(actor, actor_process, n) for n in (1, 8)]


def ray_call_cost() -> list[dict[str, float]]:
    import ray

    ray.init(address="local", include_dashboard=False, logging_level=logging.ERROR, num_cpus=os.cpu_count())
    try:
        return asyncio.run(_run())
    finally:
        ray.shutdown()


if __name__ == "__main__":
    for row in ray_call_cost():
        print(f"{row['in_flight']:g} in flight: {row['calls_per_s']:,.0f} calls/s, driver "
              f"{row['driver_us_per_call']:,.0f} us CPU a call, actor {row['actor_us_per_call']:,.0f} us")
