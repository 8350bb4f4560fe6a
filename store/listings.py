"""The partner side of the store: partners, the desired/pushed listings table, cursors and
credentials, processed webhook/poll events, and the sync log."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.schema import (
    inventory,
    listings,
    partner_state,
    partners,
    processed_events,
    sync_logs,
    variants,
)
from store.secrets import SecretBox


@dataclass(frozen=True, slots=True)
class StoredListing:
    variant_id: int
    sku: str
    desired: int
    desired_at: float
    pushed: int | None
    pushed_at: float | None
    last_error: str


def _upsert(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]], keys: Sequence[str],
            update_columns: Sequence[str]) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    if update_columns:
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={c: statement.excluded[c] for c in update_columns})
    else:
        statement = statement.on_conflict_do_nothing(index_elements=list(keys))
    return conn.execute(statement, rows)


async def ensure_partner(engine: AsyncEngine, partner_id: str, kind: str, name: str, base_url: str,
                         policy: str, options: dict[str, Any]) -> None:
    row = {"id": partner_id, "kind": kind, "name": name, "base_url": base_url, "status": "starting",
           "policy": policy, "config": json.dumps(options, sort_keys=True, default=str)}
    async with engine.begin() as conn:
        await _upsert(conn, partners, [row], ["id"],
                      ["kind", "name", "base_url", "status", "policy", "config"])


async def set_status(engine: AsyncEngine, partner_id: str, status: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(partners).where(partners.c.id == partner_id).values(status=status))


async def all_partners(engine: AsyncEngine) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(partners).order_by(partners.c.id))
        return [{str(k): v for k, v in row._mapping.items()} for row in rows]


async def load_listings(engine: AsyncEngine, partner_id: str, sku: str | None = None) -> list[StoredListing]:
    query = (
        select(listings.c.variant_id, variants.c.sku, listings.c.desired, listings.c.desired_at,
               listings.c.pushed, listings.c.pushed_at, listings.c.last_error)
        .join(variants, variants.c.id == listings.c.variant_id)
        .where(listings.c.partner_id == partner_id)
        .order_by(variants.c.sku)
    )
    if sku is not None:
        query = query.where(variants.c.sku == sku)
    async with engine.connect() as conn:
        return [StoredListing(*row) for row in await conn.execute(query)]


async def save_desired(engine: AsyncEngine, partner_id: str, rows: Iterable[tuple[int, int, float]]) -> None:
    values = [{"partner_id": partner_id, "variant_id": v, "desired": d, "desired_at": at}
              for v, d, at in rows]
    if values:
        async with engine.begin() as conn:
            await _upsert(conn, listings, values, ["partner_id", "variant_id"], ["desired", "desired_at"])


async def save_pushed(engine: AsyncEngine, partner_id: str,
                      rows: Iterable[tuple[int, int | None, float | None, str]]) -> None:
    """(variant_id, pushed, pushed_at, last_error); pushed None leaves what was pushed as it was.
    One statement for the told listings and one for the refused ones, each run for all its rows."""
    this = and_(listings.c.partner_id == partner_id, listings.c.variant_id == bindparam("v"))
    told, refused = [], []
    for variant_id, pushed, pushed_at, error in rows:
        if pushed is None:
            refused.append({"v": variant_id, "e": error[:500]})
        else:
            told.append({"v": variant_id, "p": pushed, "a": pushed_at, "e": error[:500]})
    async with engine.begin() as conn:
        if told:
            await conn.execute(update(listings).where(this).values(
                pushed=bindparam("p"), pushed_at=bindparam("a"), last_error=bindparam("e")), told)
        if refused:
            await conn.execute(update(listings).where(this).values(last_error=bindparam("e")), refused)


async def forget_pushed(engine: AsyncEngine, partner_id: str, variant_ids: Iterable[int]) -> None:
    """Drift found: what we last told the partner is not what it shows; push again."""
    ids = list(variant_ids)
    if ids:
        async with engine.begin() as conn:
            await conn.execute(update(listings).where(and_(
                listings.c.partner_id == partner_id, listings.c.variant_id.in_(ids))).values(pushed=None))


async def log_sync(engine: AsyncEngine, partner_id: str, kind: str, ok: bool, message: str = "",
                   synced: bool = False) -> None:
    """One row per call or pass (not per listing); `synced` also moves partners.last_sync_at."""
    now = time.time()
    async with engine.begin() as conn:
        await conn.execute(sync_logs.insert().values(partner_id=partner_id, at=now, kind=kind, ok=ok,
                                                     message=message[:2000]))
        if synced:
            await conn.execute(update(partners).where(partners.c.id == partner_id).values(last_sync_at=now))


async def sync_log(engine: AsyncEngine, partner_id: str, limit: int = 50) -> list[dict[str, Any]]:
    query = (select(sync_logs).where(sync_logs.c.partner_id == partner_id)
             .order_by(sync_logs.c.id.desc()).limit(limit))
    async with engine.connect() as conn:
        # plain str keys: SQLAlchemy's quoted_name keys are a str subclass JSON encoders refuse
        return [{str(k): v for k, v in row._mapping.items()} for row in await conn.execute(query)]


async def load_state(engine: AsyncEngine, partner_id: str, box: SecretBox
                     ) -> tuple[str | None, dict[str, str]]:
    """The cursor and the credentials, opened with `box` (see store/secrets.py)."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(partner_state.c.cursor, partner_state.c.credentials)
                                  .where(partner_state.c.partner_id == partner_id))).first()
    if row is None:
        return None, {}
    return row.cursor, box.open(row.credentials, f"credentials of partner {partner_id!r}")


async def save_state(engine: AsyncEngine, partner_id: str, cursor: str | None,
                     credentials: dict[str, str], box: SecretBox) -> None:
    """The credentials are stored sealed with `box`'s newest key, never plain."""
    row = {"partner_id": partner_id, "cursor": cursor, "credentials": box.seal(credentials),
           "updated_at": time.time()}
    async with engine.begin() as conn:
        await _upsert(conn, partner_state, [row], ["partner_id"], ["cursor", "credentials", "updated_at"])


async def clear_state(engine: AsyncEngine, partner_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(partner_state.delete().where(partner_state.c.partner_id == partner_id))


async def seen_events(engine: AsyncEngine, partner_id: str, event_ids: Sequence[str]) -> set[str]:
    if not event_ids:
        return set()
    async with engine.connect() as conn:
        rows = await conn.execute(select(processed_events.c.event_id).where(and_(
            processed_events.c.partner_id == partner_id, processed_events.c.event_id.in_(list(event_ids)))))
        return {row.event_id for row in rows}


async def record_events(engine: AsyncEngine, partner_id: str, event_ids: Iterable[str]) -> None:
    now = time.time()
    rows = [{"partner_id": partner_id, "event_id": event_id[:200], "at": now} for event_id in set(event_ids)]
    if rows:
        async with engine.begin() as conn:
            await _upsert(conn, processed_events, rows, ["partner_id", "event_id"], [])


async def all_levels(engine: AsyncEngine) -> dict[int, dict[int, tuple[int, int]]]:
    """Every variant's stock by location: what a level pass derives desired quantities from."""
    levels: dict[int, dict[int, tuple[int, int]]] = {}
    async with engine.connect() as conn:
        rows = await conn.execute(select(inventory.c.variant_id, inventory.c.location_id,
                                         inventory.c.on_hand, inventory.c.reserved))
        for variant_id, location_id, on_hand, reserved in rows:
            levels.setdefault(variant_id, {})[location_id] = (on_hand, reserved)
        for (variant_id,) in await conn.execute(select(variants.c.id)):
            levels.setdefault(variant_id, {})
    return levels


async def drift_counts(engine: AsyncEngine) -> dict[str, int]:
    """Listings per partner whose pushed quantity differs from the desired one."""
    query = (select(listings.c.partner_id, func.count())
             .where((listings.c.pushed.is_(None)) | (listings.c.pushed != listings.c.desired))
             .group_by(listings.c.partner_id))
    async with engine.connect() as conn:
        return {partner_id: count for partner_id, count in await conn.execute(query)}
