"""Reconciliation of one partner: read what it shows and, where that differs from what it was last
told (edited by hand at the partner, a lost push, a partner that restarted empty), push again. The
last read is remembered (`last_read_at`, `last_read_agreed`): "in sync" rests on it."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from connectors.base import Connector
from store import listings as store
from sync.calls import Alert, PartnerCalls
from sync.config import PartnerConfig
from sync.desired import DesiredQuantities

READ_BATCH = 100


class Reconciler:
    def __init__(self, config: PartnerConfig, connector: Connector, calls: PartnerCalls,
                 desired: DesiredQuantities, engine: Any, alert: Alert, wake: Callable[[], None]):
        """`wake` tells the pusher that listings need pushing again."""
        self._config, self._connector, self._calls, self._desired = config, connector, calls, desired
        self._engine, self._alert, self._wake = engine, alert, wake
        self.reconciled = self.drift_corrected = 0
        self.last_read_at: float | None = None
        self.last_read_agreed: bool | None = None   # None: never read since start
        self._one_at_a_time = asyncio.Lock()

    async def reconcile(self) -> dict[str, int]:
        """Compare what the partner shows with what it was last told. A listing that was told and
        shows something else drifted: push it again. Listings still waiting for a push are skipped:
        their push is coming anyway. Reads run one at a time: two at once (the start-up read and a
        manual one) would both find the same drift and raise its alert twice."""
        async with self._one_at_a_time:
            return await self._reconcile()

    async def _reconcile(self) -> dict[str, int]:
        outbox = self._desired.outbox
        told = {sku: e.pushed for sku, e in outbox.entries.items() if not e.dirty and not e.in_flight}
        shown = await self._read(sorted(told))
        drifted = sorted(sku for sku, quantity in shown.items()
                         if sku in told and told[sku] is not None and quantity != told[sku]
                         and self._untouched(sku, told[sku]))
        self.reconciled += 1
        self.drift_corrected += len(drifted)
        if told or not outbox.entries:  # a read of nothing (every listing waiting) tells nothing
            self.last_read_at, self.last_read_agreed = time.time(), not drifted
        if drifted:
            # The store forgets what was pushed first, then memory: a push of these listings can only
            # start after the second step, so its record of what it told cannot be overwritten.
            await store.forget_pushed(self._engine, self._config.id,
                                      [self._desired.catalog_id(sku) for sku in drifted])
            outbox.force(drifted)
            await self._desired.save()
            sample = ", ".join(f"{sku} showed {shown[sku]} not {told[sku]}" for sku in drifted[:5])
            await self._alert("drift", self._config.id, f"{self._config.name}: {len(drifted)} listing(s) "
                              f"drifted ({sample}); corrected")
            self._wake()
        await store.log_sync(self._engine, self._config.id, "reconcile", True,
                             f"checked {len(shown)}, corrected {len(drifted)}"
                             + (f": {', '.join(drifted[:20])}" if drifted else ""), synced=True)
        return {"checked": len(shown), "corrected": len(drifted)}

    def _untouched(self, sku: str, told: int | None) -> bool:
        """Whether nothing was pushed to this listing while it was read: a push that landed during
        the read (from stock events, or at start) is not drift."""
        entry = self._desired.outbox.entries.get(sku)
        return entry is not None and not entry.dirty and not entry.in_flight and entry.pushed == told

    async def _read(self, skus: list[str]) -> dict[str, int]:
        shown: dict[str, int] = {}
        for start in range(0, len(skus), READ_BATCH):
            read: Callable[[], Awaitable[dict[str, int]]] = functools.partial(
                self._connector.read_listings, skus[start:start + READ_BATCH])
            shown.update(await self._calls.call("reconcile", read))
        return shown

    def counters(self) -> dict[str, int]:
        return {"reconciled": self.reconciled, "drift_corrected": self.drift_corrected}

    def last_read(self) -> dict[str, Any]:
        return {"last_read_at": self.last_read_at, "last_read_agreed": self.last_read_agreed}
