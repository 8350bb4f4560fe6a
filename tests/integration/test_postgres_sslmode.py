"""THREADCOUNT_DATABASE_URL with libpq's sslmode against the real PostgreSQL (which has no TLS here)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from store.engine import make_engine
from tests.conftest import PG_HOST

pytestmark = pytest.mark.postgres
URL = PG_HOST.replace("postgresql://", "postgresql+asyncpg://")


@pytest.mark.parametrize("mode", ["disable", "prefer", "allow"])
async def test_a_url_with_sslmode_connects_to_a_server_without_tls(mode: str) -> None:
    engine = make_engine(f"{URL}?sslmode={mode}")
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("select 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_sslmode_require_against_a_server_without_tls_fails_saying_so() -> None:
    engine = make_engine(f"{URL}?sslmode=require")
    try:
        with pytest.raises(ConnectionError, match="rejected SSL upgrade"):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
