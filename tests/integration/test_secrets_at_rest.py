"""Partner secrets at rest, on SQLite and PostgreSQL: what the store holds (the SQLite file's bytes,
PostgreSQL's raw column) shows none of them; they open again with the key; an older version's plain
rows and rows sealed with an older key are moved to the newest key at start; `rotate-secrets` moves
everything to a new key file; a key that opens nothing stops the start with a clear error."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from service.config import Settings, load_settings
from service.runtime import Runtime, StartupError
from service.secret_keys import key_file, rotate_secrets, secret_box
from store import listings as store
from store.engine import make_engine
from store.schema import partner_state
from store.secrets import SecretBox, SecretKeyError, reseal
from tests.integration.conftest import connection

# like the demo's: an Etsy refresh token, a Shopify app secret, an SFTP password, an eBay token
DEMO_LIKE = {
    "etsy": {"refresh_token": "12345678.Etsy-refresh-QpL3xR7aVt9", "webhook_secret": "whsec_Zm9vYmFyYmF6cXV4"},
    "shopify": {"access_token": "shpat_0a1b2c3d4e5f60718293", "app_secret": "shopify-app-secret-8r4Qz"},
    "wholesale": {"username": "threadcount", "password": "sftp-pass-Hk29sLw0"},
    "ebay": {"auth_token": "v^1.1#i^1#ebay-auth-token-Xy8QmNp"},
}
OLD, NEW = "the old passphrase of this shop", "the new passphrase of this shop"


def settings_for(database_url: str, tmp_path: Path, **env: str) -> Settings:
    return load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path / "data"),
                                "THREADCOUNT_DATABASE_URL": database_url, **env})


async def raw_store(database_url: str) -> bytes:
    """What someone with the database (not the key) can read: the SQLite file and its WAL as bytes,
    or PostgreSQL's column as stored."""
    if database_url.startswith("sqlite"):
        database = Path(database_url.split(":///", 1)[1])
        return b"".join(p.read_bytes() for p in sorted(database.parent.glob(database.name + "*")))
    async with connection(database_url) as conn:
        rows = await conn.execute(select(partner_state.c.credentials))
        return "\n".join(row.credentials for row in rows).encode()


async def store_demo_like(database_url: str, box: SecretBox) -> None:
    engine = make_engine(database_url)
    try:
        for partner_id, credentials in DEMO_LIKE.items():
            await store.ensure_partner(engine, partner_id, partner_id, partner_id, "http://x", "reject", {})
            await store.save_state(engine, partner_id, "cursor-1", credentials, box)
    finally:
        await engine.dispose()


async def stored_with(database_url: str, box: SecretBox) -> dict[str, dict[str, str]]:
    engine = make_engine(database_url)
    try:
        return {partner_id: (await store.load_state(engine, partner_id, box))[1] for partner_id in DEMO_LIKE}
    finally:
        await engine.dispose()


async def make_plain(database_url: str, *partner_ids: str) -> None:
    """The rows as the version before sealing wrote them."""
    async with connection(database_url) as conn:
        for partner_id in partner_ids:
            await conn.execute(partner_state.update().where(partner_state.c.partner_id == partner_id)
                               .values(credentials=json.dumps(DEMO_LIKE[partner_id])))
        await conn.commit()


def leaked(raw: bytes) -> list[str]:
    return [value for credentials in DEMO_LIKE.values() for value in credentials.values()
            if value.encode() in raw]


async def test_stored_partner_secrets_are_unreadable_in_the_database_and_open_with_the_key(
        database_url: str) -> None:
    box = SecretBox([NEW])
    await store_demo_like(database_url, box)
    raw = await raw_store(database_url)
    assert b'"enc": "v1"' in raw
    assert leaked(raw) == []
    assert await stored_with(database_url, box) == DEMO_LIKE


async def test_plain_rows_of_an_older_version_are_read_and_sealed_at_the_next_start(
        database_url: str, tmp_path: Path) -> None:
    await store_demo_like(database_url, SecretBox([NEW]))
    await make_plain(database_url, *DEMO_LIKE)
    assert await stored_with(database_url, SecretBox([NEW])) == DEMO_LIKE
    runtime = Runtime(settings_for(database_url, tmp_path, THREADCOUNT_SECRET_KEY=NEW))
    runtime.prepare_secrets()
    await runtime.open_store()
    try:
        assert await reseal(runtime.engine, runtime.secrets) == 0   # the start did it
    finally:
        await runtime.engine.dispose()
    assert leaked(await raw_store(database_url)) == []
    assert await stored_with(database_url, SecretBox([NEW])) == DEMO_LIKE


async def test_a_start_with_a_new_key_first_moves_every_row_to_it_so_the_old_key_can_go(
        database_url: str, tmp_path: Path) -> None:
    await store_demo_like(database_url, SecretBox([OLD]))
    runtime = Runtime(settings_for(database_url, tmp_path, THREADCOUNT_SECRET_KEY=f"{NEW},{OLD}"))
    runtime.prepare_secrets()
    await runtime.open_store()
    await runtime.engine.dispose()
    assert await stored_with(database_url, SecretBox([NEW])) == DEMO_LIKE   # the new key alone opens them
    with pytest.raises(SecretKeyError):
        await stored_with(database_url, SecretBox([OLD]))


async def test_rotate_secrets_makes_a_new_key_file_and_drops_the_old_key(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, tmp_path)
    old = secret_box(settings)
    await store_demo_like(database_url, old)
    message = await rotate_secrets(settings)
    assert f"{len(DEMO_LIKE)} partners' secrets re-encrypted with a new key in {key_file(settings)}" in message
    new = key_file(settings).read_text().split()
    assert len(new) == 1 and new != list(old.keys)
    assert stat.S_IMODE(key_file(settings).stat().st_mode) == 0o600
    assert await stored_with(database_url, SecretBox(new)) == DEMO_LIKE
    with pytest.raises(SecretKeyError):
        await stored_with(database_url, old)
    assert leaked(await raw_store(database_url)) == []


async def test_a_key_that_opens_nothing_stops_the_start_naming_the_variable_and_writes_nothing(
        database_url: str, tmp_path: Path) -> None:
    await store_demo_like(database_url, SecretBox([OLD]))
    await make_plain(database_url, "wholesale")   # a row of an older version, which the start would seal
    runtime = Runtime(settings_for(database_url, tmp_path, THREADCOUNT_SECRET_KEY=NEW))
    runtime.prepare_secrets()
    with pytest.raises(StartupError, match=r"credentials of partner '\w+' were encrypted with a key that is "
                                           r"not in THREADCOUNT_SECRET_KEY"):
        await runtime.open_store()
    await runtime.engine.dispose()
    assert leaked(await raw_store(database_url)) == list(DEMO_LIKE["wholesale"].values())  # still plain
    assert await stored_with(database_url, SecretBox([OLD])) == DEMO_LIKE


async def test_a_lost_key_file_stops_the_start_saying_to_restore_it(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, tmp_path)
    await store_demo_like(database_url, secret_box(settings))
    key_file(settings).unlink()   # a data folder restored without its key file
    runtime = Runtime(settings)
    runtime.prepare_secrets()
    with pytest.raises(StartupError, match=r"THREADCOUNT_SECRET_KEY \(unset, so the key file .*secret.key\).*"
                                           r"restore the key file"):
        await runtime.open_store()
    await runtime.engine.dispose()
