"""Listening to the EventHub from anywhere (the web process, a connector actor): a long-poll loop
that hands each batch of events to a callback, and says `reset` when events were missed (the hub
restarted or the listener fell behind), so the caller re-reads the truth from the store.

Bounded: each call to the hub is given its poll timeout plus HUB_GRACE seconds. A hub on a lost node
is restarted by Ray (max_restarts=-1) once the node is declared dead; the call waiting on it meanwhile
is given up, and the listener asks again and resets, so it follows the restarted hub within seconds
rather than whenever Ray's retry of the old call comes back."""

from __future__ import annotations

import asyncio
import logging
import pickle
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from actors.logs import reason
from inventory.event_log import HUB_NAME, Event, Listening
from inventory.events import DomainEvent

log = logging.getLogger(__name__)
OnEvents = Callable[[list[Event]], Awaitable[None]]
OnReset = Callable[[], Awaitable[None]]
HUB_GRACE = 5.0  # seconds past the poll timeout a call to the hub may take before it is given up


def find_hub() -> Any | None:
    import ray

    try:
        return ray.get_actor(HUB_NAME)
    except ValueError:
        return None


async def publish(hub: Any | None, facts: Sequence[DomainEvent]) -> None:
    """Fire and forget: a lost event is healed by the listeners' next level pass."""
    hub = hub or find_hub()
    if hub is not None and facts:
        hub.publish.remote(pickle.dumps(list(facts), pickle.HIGHEST_PROTOCOL))


class HubListener:
    def __init__(self, on_events: OnEvents, on_reset: OnReset, poll_timeout: float = 10.0,
                 hub: Any | None = None):
        """With `hub` given the listener keeps that handle (a restarted hub answers on it) and never
        looks the hub up by name: a lookup blocks the event loop while Ray's GCS is unreachable,
        which is exactly when the service is being stopped."""
        self._on_events, self._on_reset = on_events, on_reset
        self._timeout = poll_timeout
        self._known = hub
        self.since: int | None = None

    async def run(self) -> None:
        hub: Any | None = self._known
        while True:
            try:
                if hub is None:
                    hub = self._known or find_hub()
                    if hub is None:
                        await asyncio.sleep(0.5)
                        continue
                # asyncio.timeout, not wait_for: on 3.11 wait_for returns an answer that arrives as
                # the task is cancelled, swallowing the cancel, and this loop would never stop
                if self.since is None:
                    async with asyncio.timeout(HUB_GRACE):
                        self.since = await hub.head.remote()
                    await self._on_reset()
                async with asyncio.timeout(self._timeout + HUB_GRACE):
                    packed = await hub.listen.remote(self.since, self._timeout)
                # from one of our own Ray actors, which Ray itself pickles anyway; never from outside
                answer: Listening = pickle.loads(packed)  # nosec B301
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the hub died: find it again and re-read the truth
                log.warning("event hub unreachable (%s); listening again", reason(exc))
                hub, self.since = self._known, None
                await asyncio.sleep(0.5)
                continue
            self.since = answer.head
            if answer.reset:
                await self._on_reset()
            if answer.events:
                await self._on_events(answer.events)
