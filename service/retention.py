"""Retention as a service task: at start and then once a day, each table's rows older than its window
(config.yaml `retention:`, days) are deleted in batches. Runs in the web process, next to the alert
watcher; a failed pass is logged and tried again at the next."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from service.config import DEFAULT_DAYS
from store.retention import TABLES, delete_before

log = logging.getLogger(__name__)
DAY = 86_400.0


async def prune(engine: AsyncEngine, days: Mapping[str, float], now: float | None = None,
                batch: int | None = None) -> dict[str, int]:
    """One pass: how many rows each table lost."""
    now = time.time() if now is None else now
    deleted: dict[str, int] = {}
    for name, tables in TABLES.items():
        cutoff = now - days.get(name, DEFAULT_DAYS[name]) * DAY
        for table in tables:
            extra = {} if batch is None else {"batch": batch}
            deleted[table.name] = await delete_before(engine, table, cutoff, **extra)
    return deleted


class RetentionTask:
    def __init__(self, engine: AsyncEngine, days: Mapping[str, float], every: float = DAY):
        self._engine, self._days, self._every = engine, dict(days), every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            try:
                deleted = await prune(self._engine, self._days)
                if any(deleted.values()):
                    log.info("retention: deleted %s", ", ".join(f"{n} {t}" for t, n in deleted.items() if n))
            except Exception as exc:  # the store is busy or away: the next pass tries again
                log.warning("retention pass failed: %s", exc)
            await asyncio.sleep(self._every)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
