"""Holds as the store keeps them: what was asked, until when, and how each ended.

`claim` is the one place a hold's end is decided: a conditional update from `held`, so of a release,
an expiry and a conversion racing for one hold (in one process or several) exactly one wins. The
shards' side (releasing or moving the units) follows the claim and is idempotent, so a restart can
finish it (`unsettled`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.commands import LineStatus
from inventory.holds import HoldStatus
from store.schema import holds, order_lines, orders

Lines = list[tuple[int, int]]  # (variant id, quantity)


@dataclass(frozen=True, slots=True)
class StoredHold:
    id: str
    channel: str
    status: HoldStatus
    lines: Lines
    created_at: float
    expires_at: float
    closed_at: float | None = None
    actor: str | None = None
    order_id: str | None = None
    order_external_id: str | None = None
    order_lines: Lines | None = None


@dataclass(frozen=True, slots=True)
class Conversion:
    """The order a hold becomes, as the claim records it."""

    order_id: str
    external_id: str
    lines: Lines


def _lines(text: str | None) -> Lines | None:
    return None if text is None else [(int(v), int(q)) for v, q in json.loads(text)]


def _hold(row: Any) -> StoredHold:
    return StoredHold(row.id, row.channel, HoldStatus(row.status), _lines(row.lines) or [], row.created_at,
                      row.expires_at, row.closed_at, row.actor, row.order_id, row.order_external_id,
                      _lines(row.order_lines))


async def insert(engine: AsyncEngine, hold: StoredHold) -> None:
    async with engine.begin() as conn:
        await conn.execute(holds.insert().values(
            id=hold.id, channel=hold.channel, status=hold.status, lines=json.dumps(hold.lines),
            created_at=hold.created_at, expires_at=hold.expires_at, actor=hold.actor))


async def forget(engine: AsyncEngine, hold_id: str) -> None:
    """A hold the shards refused (stock was short): it never held anything."""
    async with engine.begin() as conn:
        await conn.execute(delete(holds).where(holds.c.id == hold_id, holds.c.status == HoldStatus.HELD))


async def get(engine: AsyncEngine, hold_id: str) -> StoredHold | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(holds).where(holds.c.id == hold_id))).first()
    return None if row is None else _hold(row)


async def claim(engine: AsyncEngine, hold_id: str, status: HoldStatus, now: float, actor: str | None,
                conversion: Conversion | None = None) -> bool:
    """End a held hold as `status`; False when it is not held (any more)."""
    values: dict[str, Any] = {"status": status, "closed_at": now, "closed_by": actor}
    if conversion is not None:
        values.update(order_id=conversion.order_id, order_external_id=conversion.external_id,
                      order_lines=json.dumps(conversion.lines))
    async with engine.begin() as conn:
        done = await conn.execute(update(holds).where(
            holds.c.id == hold_id, holds.c.status == HoldStatus.HELD).values(**values))
    return bool(done.rowcount)


async def unclaim(engine: AsyncEngine, hold_id: str, order_id: str) -> bool:
    """Undo a conversion the shards refused as a whole: the hold is held again."""
    async with engine.begin() as conn:
        done = await conn.execute(update(holds).where(
            holds.c.id == hold_id, holds.c.status == HoldStatus.CONVERTED, holds.c.order_id == order_id,
        ).values(status=HoldStatus.HELD, closed_at=None, closed_by=None, order_id=None,
                 order_external_id=None, order_lines=None))
    return bool(done.rowcount)


async def held(engine: AsyncEngine) -> list[tuple[str, float]]:
    """Every hold still held, with its expiry: what the expiry timer watches."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(holds.c.id, holds.c.expires_at).where(
            holds.c.status == HoldStatus.HELD))).all()
    return [(row.id, row.expires_at) for row in rows]


async def unsettled(engine: AsyncEngine) -> list[StoredHold]:
    """Holds that ended while their units are still held by the shards: a crash came between the
    claim and the shards' part. Their part is an open order whose id is the hold's."""
    still_open = exists().where(orders.c.id == holds.c.id, order_lines.c.order_seq == orders.c.seq,
                                order_lines.c.state == LineStatus.OPEN)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(holds).where(holds.c.status != HoldStatus.HELD, still_open))).all()
    return [_hold(row) for row in rows]


async def listing(engine: AsyncEngine, statuses: Sequence[HoldStatus], limit: int) -> list[StoredHold]:
    """Holds with these statuses, those expiring soonest first."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(holds).where(holds.c.status.in_(list(statuses)))
                                   .order_by(holds.c.expires_at).limit(limit))).all()
    return [_hold(row) for row in rows]
