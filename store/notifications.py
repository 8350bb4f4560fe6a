"""Notifications: one row per attempt to send an alert (or a digest, or a test) to one recipient."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import notification_rules, notifications, users


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


async def saved_rules(engine: AsyncEngine) -> str | None:
    """The rules a manager saved (YAML text); None when config.yaml's hold."""
    async with engine.connect() as conn:
        return (await conn.execute(select(notification_rules.c.rules).where(notification_rules.c.id == 1))
                ).scalar_one_or_none()


async def save_rules(engine: AsyncEngine, text: str, by: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(notification_rules).where(notification_rules.c.id == 1))
        await conn.execute(notification_rules.insert().values(id=1, rules=text, updated_at=time.time(),
                                                              updated_by=by[:100]))
