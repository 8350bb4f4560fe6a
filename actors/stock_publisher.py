"""A stock shard's committed stock, published to the EventHub coalesced per variant (the newest
level wins, with the trace of the batch that made it while traces are on).

When: at once after a quiet spell, and under load at most once every `every` seconds. Each publish
is a Ray call to the hub, and it wakes every listener with a call of its own; on this project's
2-core machine a Ray actor call costs its caller and its callee 0.6-2 ms of CPU each, far more than
the event. Publishing `every` seconds after each commit (the earlier rule) kept the hub and the web
process busy with one publish per commit under load, and still delayed a lone change by `every`."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence

from actors.tracing import Carrier
from inventory.commands import VariantStock
from inventory.events import StockChanged

log = logging.getLogger(__name__)
Send = Callable[[list[StockChanged]], Awaitable[None]]


class StockPublisher:
    def __init__(self, send: Send, every: float, name: str = "shard"):
        self._send, self._every, self._name = send, every, name
        self._pending: dict[int, tuple[VariantStock, Carrier | None]] = {}
        self._task: asyncio.Task[None] | None = None
        self._sent_at = -math.inf  # loop time of the last publish
        self.publishes = 0

    def add(self, stocks: Sequence[VariantStock], trace: Carrier | None = None) -> None:
        """Committed stock: published at once if the last publish was `every` seconds ago or more,
        else `every` seconds after it, with whatever else was committed meanwhile."""
        for stock in stocks:
            earlier = self._pending.get(stock.variant_id)
            self._pending[stock.variant_id] = stock, trace or (earlier[1] if earlier else None)
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.ensure_future(self._publish_soon())

    async def _publish_soon(self) -> None:
        loop = asyncio.get_running_loop()
        # sleep(0) at least: the commits of this turn of the loop go in the same publish
        await asyncio.sleep(max(0.0, self._sent_at + self._every - loop.time()))
        self._sent_at = loop.time()
        pending, self._pending = self._pending, {}
        self.publishes += 1
        try:
            await self._send([StockChanged(stock, trace) for stock, trace in pending.values()])
        except Exception as exc:  # listeners heal from the store on their next level pass
            log.warning("%s: could not publish stock events: %s", self._name, exc)
