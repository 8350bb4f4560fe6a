"""API idempotency keys: the first body sent under a (caller, route, key) scope is kept as a hash, so
the same key with another body can be refused instead of replaying an unrelated answer."""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import idempotency_keys


async def claim(engine: AsyncEngine, scope: str, body_hash: str) -> bool:
    """Records `body_hash` as the scope's body if it has none yet; True when the scope's body is
    `body_hash` (new, or the same body again), False when the key was first used with another body."""
    async with engine.begin() as conn:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        await conn.execute(dialect.insert(idempotency_keys)
                           .values(scope=scope, body_hash=body_hash, at=time.time())
                           .on_conflict_do_nothing(index_elements=["scope"]))
        first = (await conn.execute(select(idempotency_keys.c.body_hash)
                                    .where(idempotency_keys.c.scope == scope))).scalar_one()
    return bool(first == body_hash)
