"""Shared fixtures: one Ray instance for the session, fresh SQLite files and PostgreSQL databases."""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from store.migrate import upgrade

PG_HOST = os.environ.get("THREADCOUNT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def ray_session() -> Iterator[Any]:
    import ray

    os.environ.setdefault("RAY_worker_niceness", "0")
    ray.init(address="local", include_dashboard=False, logging_level=logging.ERROR, num_cpus=2,
             namespace=f"threadcount-tests-{uuid.uuid4().hex[:6]}")
    yield ray
    ray.shutdown()


async def sqlite_database(folder: Path) -> str:
    url = f"sqlite+aiosqlite:///{folder / 'threadcount.db'}"
    await upgrade(url)
    return url


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A new, migrated database on the local PostgreSQL server, dropped afterwards."""
    import asyncpg

    name = f"tc_test_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(PG_HOST)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_HOST.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    try:
        await upgrade(url)
        yield url
    finally:
        admin = await asyncpg.connect(PG_HOST)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test that takes it runs on both stores."""
    if request.param == "sqlite":
        yield await sqlite_database(tmp_path)
    else:
        async with postgres_database() as url:
            yield url
