"""What refused webhooks may write: anyone can post to the ingress, and some partners (Amazon,
wholesale) refuse every POST, so a refusal must not cost a sync_logs row each. Per partner, at most
PER_MINUTE refusals a minute are logged one by one; the rest are counted and written as one summary
row when the next minute's first refusal comes (or when the ingress stops)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from store import listings as store

log = logging.getLogger(__name__)
PER_MINUTE = 10
WINDOW = 60.0


@dataclass(slots=True)
class _Window:
    started: float
    logged: int = 0
    unlogged: int = 0


class RefusalLog:
    def __init__(self, engine: Callable[[], AsyncEngine], per_minute: int = PER_MINUTE,
                 clock: Callable[[], float] = time.monotonic):
        """`engine` is asked for at each write: the store opens after the ingress starts listening."""
        self._engine, self._per_minute, self._clock = engine, per_minute, clock
        self._windows: dict[str, _Window] = {}

    async def refused(self, partner_id: str, reason: str) -> None:
        now = self._clock()
        window = self._windows.get(partner_id)
        if window is None or now - window.started >= WINDOW:
            if window is not None:
                await self._summarise(partner_id, window)
            window = self._windows[partner_id] = _Window(now)
        if window.logged >= self._per_minute:
            window.unlogged += 1
            return
        window.logged += 1
        log.warning("webhook for %s refused: %s", partner_id, reason)
        await store.log_sync(self._engine(), partner_id, "webhook", False, f"refused: {reason}")

    async def _summarise(self, partner_id: str, window: _Window) -> None:
        if window.unlogged:
            message = (f"refused: {window.unlogged} more deliveries in a minute, not logged one by one "
                       f"(at most {self._per_minute} a minute are)")
            log.warning("webhook for %s %s", partner_id, message)
            await store.log_sync(self._engine(), partner_id, "webhook", False, message)
            window.unlogged = 0

    async def flush(self) -> None:
        """Writes the summaries still held (the ingress is stopping)."""
        for partner_id, window in list(self._windows.items()):
            try:
                await self._summarise(partner_id, window)
            except Exception as exc:  # the store is already closed: the count is in our log only
                log.warning("webhook refusals of %s not summarised: %s", partner_id, exc)
