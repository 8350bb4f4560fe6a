"""Alerts: raised once per (kind, key) while open, so a storm of the same problem is one alert whose
count and last_seen_at grow; acknowledged by a manager, after which the next occurrence opens a new one."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import alerts

KINDS = ("low_stock", "sync_failure", "oversell", "backorder", "drift", "unknown_sku", "dead_letter")


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    kind: str
    key: str
    message: str
    raised_at: float
    last_seen_at: float
    count: int
    acknowledged_at: float | None
    acknowledged_by: str | None


async def raise_alert(engine: AsyncEngine, kind: str, key: str, message: str) -> tuple[Alert, bool]:
    """Open the alert, or count another occurrence of the open one. True when it is new."""
    now = time.time()
    open_one = (alerts.c.kind == kind) & (alerts.c.key == key) & alerts.c.acknowledged_at.is_(None)
    for _ in range(2):  # a racing writer may open it between our update and insert
        async with engine.begin() as conn:
            done = await conn.execute(update(alerts).where(open_one).values(
                count=alerts.c.count + 1, last_seen_at=now, message=message))
            if done.rowcount:
                row = (await conn.execute(select(alerts).where(open_one))).one()
                return Alert(*row), False
            try:
                inserted = await conn.execute(alerts.insert().values(
                    kind=kind, key=key, message=message, raised_at=now, last_seen_at=now, count=1))
            except IntegrityError:
                continue
            primary_key = inserted.inserted_primary_key
            alert_id = int(primary_key[0]) if primary_key else 0
            return Alert(alert_id, kind, key, message, now, now, 1, None, None), True
    raise RuntimeError(f"could not raise alert {kind}/{key}")


async def acknowledge(engine: AsyncEngine, alert_id: int, by: str) -> bool:
    async with engine.begin() as conn:
        done = await conn.execute(update(alerts).where(
            (alerts.c.id == alert_id) & alerts.c.acknowledged_at.is_(None)
        ).values(acknowledged_at=time.time(), acknowledged_by=by))
    return bool(done.rowcount)


async def open_alerts(engine: AsyncEngine, limit: int = 200) -> list[Alert]:
    return await _select(engine, alerts.c.acknowledged_at.is_(None), limit)


async def open_counts(engine: AsyncEngine) -> dict[str, int]:
    """Open alerts per kind, every known kind named (0 when none is open)."""
    query = (select(alerts.c.kind, func.count()).where(alerts.c.acknowledged_at.is_(None))
             .group_by(alerts.c.kind))
    async with engine.connect() as conn:
        found = {str(kind): int(count) for kind, count in await conn.execute(query)}
    return {**dict.fromkeys(KINDS, 0), **found}


async def recent_alerts(engine: AsyncEngine, limit: int = 200) -> list[Alert]:
    return await _select(engine, None, limit)


async def _select(engine: AsyncEngine, where: object, limit: int) -> list[Alert]:
    query = select(alerts).order_by(alerts.c.last_seen_at.desc()).limit(limit)
    if where is not None:
        query = query.where(where)  # type: ignore[arg-type]
    async with engine.connect() as conn:
        return [Alert(*row) for row in await conn.execute(query)]
