"""Partner orders that can never apply as they stand (a malformed line, a quantity over the cap, no
SKU we carry): kept here with the event itself, so a manager can retry one after fixing the cause
(adding the SKU), and so they never hold up the partner's other orders. One row per (partner,
event id): the same order seen again counts another attempt, not another letter."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import partner_dead_letters as letters


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: int
    partner_id: str
    event_id: str
    order_id: str
    event: dict[str, Any]
    reason: str
    status: str
    attempts: int
    created_at: float
    updated_at: float


async def keep(engine: AsyncEngine, partner_id: str, event_id: str, order_id: str,
               event: dict[str, Any], reason: str) -> tuple[int, bool]:
    """Keep the letter (or count another attempt at it); its id, and True when it is new."""
    now = time.time()
    same = (letters.c.partner_id == partner_id) & (letters.c.event_id == event_id)
    for _ in range(2):  # a racing writer may insert it between our update and insert
        async with engine.begin() as conn:
            done = await conn.execute(update(letters).where(same).values(
                reason=reason, status="open", attempts=letters.c.attempts + 1, updated_at=now))
            if done.rowcount:
                return int((await conn.execute(select(letters.c.id).where(same))).scalar_one()), False
            try:
                added = await conn.execute(letters.insert().values(
                    partner_id=partner_id, event_id=event_id, order_id=order_id, event=json.dumps(event),
                    reason=reason, created_at=now, updated_at=now))
            except IntegrityError:
                continue
            key = added.inserted_primary_key
            return int(key[0]) if key else 0, True
    raise RuntimeError(f"could not keep the dead letter {partner_id}/{event_id}")


async def applied(engine: AsyncEngine, letter_id: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(letters).where(letters.c.id == letter_id).values(
            status="applied", updated_at=time.time()))


async def find(engine: AsyncEngine, partner_id: str, letter_id: int) -> DeadLetter | None:
    found = await _select(engine, (letters.c.partner_id == partner_id) & (letters.c.id == letter_id), 1)
    return found[0] if found else None


async def for_partner(engine: AsyncEngine, partner_id: str, status: str | None = None,
                      limit: int = 100) -> list[DeadLetter]:
    where = letters.c.partner_id == partner_id
    if status is not None:
        where = where & (letters.c.status == status)
    return await _select(engine, where, limit)


async def open_letters(engine: AsyncEngine, limit: int = 200) -> dict[str, list[DeadLetter]]:
    """The open letters of every partner, newest first (what the partners page shows)."""
    found: dict[str, list[DeadLetter]] = {}
    for letter in await _select(engine, letters.c.status == "open", limit):
        found.setdefault(letter.partner_id, []).append(letter)
    return found


async def open_counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        query = (select(letters.c.partner_id, func.count()).where(letters.c.status == "open")
                 .group_by(letters.c.partner_id))
        return {str(partner_id): int(count) for partner_id, count in await conn.execute(query)}


async def _select(engine: AsyncEngine, where: Any, limit: int) -> list[DeadLetter]:
    query = select(letters).where(where).order_by(letters.c.id.desc()).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [DeadLetter(**{**row, "event": json.loads(row["event"])}) for row in rows]
