"""Notifications: one row per attempt to send an alert (or a digest, or a test) to one recipient."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import notifications, users


@dataclass(frozen=True, slots=True)
class Attempt:
    at: float
    alert_kind: str
    channel: str
    to: str
    outcome: str
    error: str | None


async def record_attempt(engine: AsyncEngine, alert_kind: str, channel: str, to: str, outcome: str,
                         error: str | None = None) -> None:
    async with engine.begin() as conn:
        await conn.execute(notifications.insert().values(
            at=time.time(), alert_kind=alert_kind[:32], channel=channel, recipient=to[:200],
            outcome=outcome, error=None if error is None else error[:2000]))


async def recent_attempts(engine: AsyncEngine, limit: int = 100) -> list[Attempt]:
    query = (select(notifications.c.at, notifications.c.alert_kind, notifications.c.channel,
                    notifications.c.recipient, notifications.c.outcome, notifications.c.error)
             .order_by(notifications.c.at.desc(), notifications.c.id.desc()).limit(limit))
    async with engine.connect() as conn:
        return [Attempt(*row) for row in await conn.execute(query)]


async def contacts_of_roles(engine: AsyncEngine,
                            roles: tuple[str, ...]) -> list[tuple[str | None, str | None]]:
    """(email, phone) of every enabled user with one of these roles."""
    if not roles:
        return []
    query = select(users.c.email, users.c.phone).where(users.c.role.in_(roles) & users.c.disabled.is_(False))
    async with engine.connect() as conn:
        return [(row[0], row[1]) for row in await conn.execute(query)]
