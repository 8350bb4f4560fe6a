"""The audit trail: who did what to what, and why (every manual change from the dashboard or API)."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from store.schema import audit_log


async def record(target: AsyncEngine | AsyncConnection, actor: str, action: str, subject: str = "",
                 **detail: Any) -> None:
    row = {"at": time.time(), "actor": actor, "action": action, "subject": subject,
           "detail": json.dumps(detail, sort_keys=True, default=str)}
    if isinstance(target, AsyncEngine):
        async with target.begin() as conn:
            await conn.execute(audit_log.insert().values(**row))
    else:
        await target.execute(audit_log.insert().values(**row))


async def entries(engine: AsyncEngine, limit: int = 100, subject: str | None = None) -> list[dict[str, Any]]:
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if subject is not None:
        query = query.where(audit_log.c.subject == subject)
    async with engine.connect() as conn:
        return [
            {**{str(k): v for k, v in row._mapping.items()}, "detail": json.loads(row.detail or "{}")}
            for row in await conn.execute(query)
        ]
