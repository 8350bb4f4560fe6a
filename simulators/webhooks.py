"""Webhook delivery the way partners do it: in the background, retried along the partner's
schedule when the receiver fails or refuses, and now and then sent twice. Each attempt is signed
anew by the caller's `headers_for(attempt_time)`; the schedule runs on the simulator's clock."""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import ClientSession

from simulators.clock import Clock

log = logging.getLogger(__name__)
HeadersFor = Callable[[float], dict[str, str]]


class Courier:
    def __init__(self, kind: str, clock: Clock, stats: Counter[str], retry_delays: tuple[float, ...],
                 duplicate_rate: float, spawn: Callable[[Coroutine[Any, Any, None]], Any]):
        self._kind, self._clock, self._stats = kind, clock, stats
        self._retry_delays, self._duplicate_rate, self._spawn = retry_delays, duplicate_rate, spawn
        self.client: ClientSession | None = None

    def send(self, url: str, body: bytes, headers_for: HeadersFor) -> None:
        self._spawn(self._attempts(url, body, headers_for))
        if random.random() < self._duplicate_rate:
            self._stats["webhooks_duplicated"] += 1
            self._spawn(self._attempts(url, body, headers_for))

    async def _attempts(self, url: str, body: bytes, headers_for: HeadersFor) -> None:
        for wait in (0.0, *self._retry_delays):
            if wait:
                await self._clock.sleep(wait)
            if await self._attempt(url, body, headers_for(self._clock.time())):
                return
        self._stats["webhooks_given_up"] += 1

    async def _attempt(self, url: str, body: bytes, headers: dict[str, str]) -> bool:
        if self.client is None:
            raise RuntimeError("the simulator is not started")
        self._stats["webhooks_sent"] += 1
        try:
            async with self.client.post(url, data=body, headers=headers) as answer:
                if 200 <= answer.status < 300:
                    self._stats["webhooks_acknowledged"] += 1
                    return True
                self._stats[f"webhooks_refused:{answer.status}"] += 1
        except Exception as exc:  # the receiver is down: the partner retries later
            self._stats["webhooks_failed"] += 1
            log.debug("%s webhook to %s failed: %s", self._kind, url, exc)
        return False
