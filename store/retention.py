"""Retention: rows of the append-only tables older than their table's window are deleted, a batch at
a time (short transactions: the writers are never held up long, and SQLite's WAL stays small)."""

from __future__ import annotations

from sqlalchemy import Table, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import (
    audit_log,
    idempotency_keys,
    notifications,
    processed_commands,
    processed_events,
    sync_logs,
)

# the tables with a retention window, by the name config.yaml's `retention:` gives them
TABLES: dict[str, tuple[Table, ...]] = {
    "sync_logs": (sync_logs,),
    "processed_events": (processed_events,),
    # an API Idempotency-Key's body hash lives as long as the command result it replays
    "processed_commands": (processed_commands, idempotency_keys),
    "audit_log": (audit_log,),
    "notifications": (notifications,),
}
BATCH = 5000


async def delete_before(engine: AsyncEngine, table: Table, cutoff: float, batch: int = BATCH) -> int:
    """Deletes the rows whose `at` is before `cutoff`, `batch` rows per transaction; how many."""
    key = list(table.primary_key.columns)
    deleted = 0
    while True:
        older = select(*key).where(table.c.at < cutoff).limit(batch)
        target = key[0].in_(older) if len(key) == 1 else tuple_(*key).in_(older)
        async with engine.begin() as conn:
            count = (await conn.execute(delete(table).where(target))).rowcount or 0
        deleted += count
        if count < batch:
            return deleted
