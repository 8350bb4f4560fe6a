"""EventHub: one named actor that fans committed events out by long poll (as Ray Serve's LongPoll
does). Publishers call `publish` after their commit; listeners call `listen(since)`, which answers
at once when there is something newer, else when something arrives or `timeout` passes.

A restarted hub starts a new sequence from its start time, so a listener that saw a higher seq is
told to reset (re-read the store) rather than waiting forever."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import time
from typing import Any

from actors import tracing
from actors.logs import configure_actor
from actors.metrics import HubMetrics
from inventory.event_log import HUB_NAME, EventLog

__all__ = ["HUB_NAME", "EventHub", "hub_actor_class"]


class EventHub:
    def __init__(self, capacity: int = 50_000):
        configure_actor("hub")
        tracing.start("hub")  # it makes no span of its own yet: events carry their context through it
        self.log = EventLog(capacity, first_seq=int(time.time() * 1000) * 1000)
        self._changed = asyncio.Condition()
        self.figures = HubMetrics()
        self._answer: tuple[tuple[int, int, int], bytes] | None = None  # by (since, head, limit)

    async def publish(self, packed: bytes) -> int:
        """`packed` is a pickled list of facts (inventory.events), each already committed."""
        # from one of our own Ray actors, which Ray itself pickles anyway; never from outside
        facts = pickle.loads(packed)  # nosec B301
        head = self.log.append(facts)
        self.figures.events.inc(len(facts))
        async with self._changed:
            self._changed.notify_all()
        return head

    async def listen(self, since: int, timeout: float = 10.0, limit: int = 5_000) -> bytes:
        if since == self.log.head:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(lambda: self.log.head > since), timeout)
        # Listeners woken by one publish ask from the same place: the answer is packed once for all
        # (with a web process per core each following the hub, packing was most of the hub's work).
        key = (since, self.log.head, limit)
        if self._answer is None or self._answer[0] != key:
            self._answer = key, pickle.dumps(self.log.since(since, limit), pickle.HIGHEST_PROTOCOL)
        return self._answer[1]

    def head(self) -> int:
        return self.log.head

    def pid(self) -> int:
        return os.getpid()

    def metrics(self) -> list[Any]:
        return self.figures.families()


def hub_actor_class() -> Any:
    import ray

    return ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(EventHub)
