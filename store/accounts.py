"""Users, API keys and dashboard sessions in the store. Keys and session ids are kept only as their
sha256 (both are 32 random bytes, so a plain hash is enough: nothing to guess from it)."""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import api_keys, sessions, users

IN_LIST = 500  # session ids per query (SQLite allows 32,766 parameters; PostgreSQL 65,535)
USER_FIELDS = ("username", "role", "email", "phone", "disabled", "created_at")
KEY_FIELDS = ("id", "name", "role", "created_at", "last_used_at", "revoked_at")


class Taken(Exception):
    """A username or key name already in use."""


@dataclass(frozen=True)
class Holder:
    """Who a key or a session belongs to, as the store has it now."""

    name: str
    role: str
    disabled: bool


async def create_user(engine: AsyncEngine, username: str, password_hash: str, role: str,
                      email: str | None, phone: str | None) -> dict[str, Any]:
    row = {"username": username, "password_hash": password_hash, "role": role, "email": email,
           "phone": phone, "disabled": False, "created_at": time.time()}
    try:
        async with engine.begin() as conn:
            await conn.execute(users.insert().values(**row))
    except IntegrityError:
        raise Taken(f"username: {username!r} already exists") from None
    return {name: row[name] for name in USER_FIELDS}


async def list_users(engine: AsyncEngine) -> list[dict[str, Any]]:
    query = select(*(users.c[name] for name in USER_FIELDS)).order_by(users.c.username)
    async with engine.connect() as conn:
        return [_user(row._mapping) for row in await conn.execute(query)]


async def user(engine: AsyncEngine, username: str) -> dict[str, Any] | None:
    query = select(*(users.c[name] for name in USER_FIELDS)).where(users.c.username == username)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else _user(row._mapping)


def _user(row: Any) -> dict[str, Any]:
    return {**{name: row[name] for name in USER_FIELDS}, "disabled": bool(row["disabled"])}


async def login_record(engine: AsyncEngine, username: str) -> tuple[str, bool] | None:
    """(password hash, disabled) of a user, for a login."""
    query = select(users.c.password_hash, users.c.disabled).where(users.c.username == username)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else (row.password_hash, bool(row.disabled))


async def update_user(engine: AsyncEngine, username: str, changes: dict[str, Any],
                      end_sessions: bool) -> bool:
    """Applies `changes` (and, when asked, deletes the user's sessions in the same transaction);
    False when there is no such user."""
    async with engine.begin() as conn:
        exists = (await conn.execute(select(users.c.username).where(users.c.username == username))).first()
        if exists is None:
            return False
        if changes:
            await conn.execute(update(users).where(users.c.username == username).values(**changes))
        if end_sessions:
            await conn.execute(delete(sessions).where(sessions.c.username == username))
    return True


async def create_key(engine: AsyncEngine, name: str, role: str, key_hash: str) -> dict[str, Any]:
    row = {"name": name, "role": role, "key_hash": key_hash, "created_at": time.time()}
    try:
        async with engine.begin() as conn:
            inserted = await conn.execute(api_keys.insert().values(**row).returning(api_keys.c.id))
            key_id = inserted.scalar_one()
    except IntegrityError:
        raise Taken(f"name: an API key named {name!r} already exists") from None
    return {"id": key_id, "name": name, "role": role, "created_at": row["created_at"],
            "last_used_at": None, "revoked_at": None}


async def list_keys(engine: AsyncEngine) -> list[dict[str, Any]]:
    query = select(*(api_keys.c[name] for name in KEY_FIELDS)).order_by(api_keys.c.id)
    async with engine.connect() as conn:
        return [{name: row._mapping[name] for name in KEY_FIELDS} for row in await conn.execute(query)]


async def key_holder(engine: AsyncEngine, key_hash: str) -> tuple[int, Holder] | None:
    """The key's id and holder, when the key exists and is not revoked."""
    query = select(api_keys.c.id, api_keys.c.name, api_keys.c.role).where(
        api_keys.c.key_hash == key_hash, api_keys.c.revoked_at.is_(None))
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else (row.id, Holder(row.name, row.role, False))


async def revoke_key(engine: AsyncEngine, key_id: int) -> str | None:
    """Revokes the key (again: harmless); its name, or None when there is no such key."""
    async with engine.begin() as conn:
        found = await conn.execute(select(api_keys.c.name).where(api_keys.c.id == key_id))
        name = found.scalar_one_or_none()
        if name is not None:
            live = (api_keys.c.id == key_id) & api_keys.c.revoked_at.is_(None)
            await conn.execute(update(api_keys).where(live).values(revoked_at=time.time()))
    return name


async def key_used(engine: AsyncEngine, key_id: int, at: float) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))


async def create_session(engine: AsyncEngine, session_hash: str, username: str, lifetime: float) -> None:
    now = time.time()
    async with engine.begin() as conn:
        # the user's expired sessions go at the next login (by the username index), so rows do not pile up
        expired = (sessions.c.username == username) & (sessions.c.expires_at <= now)
        await conn.execute(delete(sessions).where(expired))
        await conn.execute(sessions.insert().values(id=session_hash, username=username, created_at=now,
                                                    last_seen_at=now, expires_at=now + lifetime))


def _unexpired(*columns: Any) -> Select[Any]:
    """`columns` of the sessions that have not expired, each joined to its user."""
    return (select(*columns).select_from(sessions.join(users, users.c.username == sessions.c.username))
            .where(sessions.c.expires_at > time.time()))


async def session_holder(engine: AsyncEngine, session_hash: str) -> Holder | None:
    """The session's user, when the session exists and has not expired."""
    query = _unexpired(users.c.username, users.c.role, users.c.disabled).where(sessions.c.id == session_hash)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else Holder(row.username, row.role, bool(row.disabled))


async def sessions_standing(engine: AsyncEngine, session_hashes: Collection[str]) -> set[str]:
    """Which of these sessions stand (they exist, have not expired, and their user is not disabled):
    one query for all of a web process's open event streams, in lists of IN_LIST."""
    hashes = sorted(session_hashes)
    standing: set[str] = set()
    async with engine.connect() as conn:
        for start in range(0, len(hashes), IN_LIST):
            query = _unexpired(sessions.c.id).where(sessions.c.id.in_(hashes[start:start + IN_LIST]),
                                                    users.c.disabled.is_(False))
            standing.update(row.id for row in await conn.execute(query))
    return standing


async def session_seen(engine: AsyncEngine, session_hash: str, at: float) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(sessions).where(sessions.c.id == session_hash).values(last_seen_at=at))


async def delete_session(engine: AsyncEngine, session_hash: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(sessions).where(sessions.c.id == session_hash))
