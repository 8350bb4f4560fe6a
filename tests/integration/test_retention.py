"""Retention deletes the rows older than each table's window, in batches, and keeps the newer ones,
on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, select

from service.config import ConfigError, load_settings
from service.retention import DAY, prune
from store import listings as store
from store.engine import make_engine
from store.schema import (
    audit_log,
    idempotency_keys,
    notifications,
    processed_commands,
    processed_events,
    sync_logs,
)


async def count(engine: Any, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def test_retention_deletes_old_rows_in_batches_and_keeps_new_ones(database_url: str) -> None:
    engine = make_engine(database_url)
    now = time.time()
    await store.ensure_partner(engine, "etsy", "etsy", "Etsy", "", "reject", {})
    ages = {"new": now - 1 * DAY, "month": now - 40 * DAY, "years": now - 400 * DAY}
    async with engine.begin() as conn:
        for i in range(7):
            for name, at in ages.items():
                key = f"{name}-{i}"
                await conn.execute(sync_logs.insert().values(partner_id="etsy", at=at, kind="push", ok=True))
                await conn.execute(processed_events.insert().values(partner_id="etsy", event_id=key, at=at))
                await conn.execute(processed_commands.insert().values(id=key, result="{}", at=at))
                await conn.execute(idempotency_keys.insert().values(scope=key, body_hash="h", at=at))
                await conn.execute(audit_log.insert().values(at=at, actor="a", action="x"))
                await conn.execute(notifications.insert().values(at=at, alert_kind="low_stock", channel="email",
                                                                 recipient="a@x.com", outcome="sent"))
    days = {"sync_logs": 30, "processed_events": 30, "processed_commands": 30, "audit_log": 365,
            "notifications": 90}
    deleted = await prune(engine, days, now=now, batch=3)
    assert deleted == {"sync_logs": 14, "processed_events": 14, "processed_commands": 14,
                       "idempotency_keys": 14, "audit_log": 7, "notifications": 7}
    for table in (sync_logs, processed_events, processed_commands, idempotency_keys):
        assert await count(engine, table) == 7
    assert await count(engine, audit_log) == 14
    assert await count(engine, notifications) == 14
    async with engine.connect() as conn:
        kept = {row.event_id for row in await conn.execute(select(processed_events.c.event_id))}
    assert kept == {f"new-{i}" for i in range(7)}
    await engine.dispose()


def test_retention_days_come_from_the_config_and_a_wrong_table_is_named(tmp_path: Any) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("retention: {sync_logs: 7}\n")
    assert load_settings(config, env={}).retention == {
        "sync_logs": 7.0, "processed_events": 30, "processed_commands": 30, "audit_log": 365,
        "notifications": 90}
    config.write_text("retention: {orders: 7}\n")
    with pytest.raises(ConfigError, match=r"retention\.orders"):
        load_settings(config, env={})
    config.write_text("retention: {audit_log: 0}\n")
    with pytest.raises(ConfigError, match=r"retention\.audit_log must be more than 0"):
        load_settings(config, env={})
