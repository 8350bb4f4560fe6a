"""The built-in dashboard user `admin` (role admin): its password (THREADCOUNT_ADMIN_PASSWORD, or
generated once into DATA_DIR/admin_password), kept in the users table as an argon2 hash. Other users
are made by an admin (service/accounts.py)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.accounts import hash_password, password_matches
from service.config import Settings
from store.private_files import private_file
from store.schema import users

log = logging.getLogger(__name__)
ADMIN = "admin"
__all__ = ["ADMIN", "admin_password", "ensure_admin", "hash_password", "password_matches", "private_file"]


def password_file(settings: Settings) -> Path:
    return settings.data_dir / "admin_password"


def admin_password(settings: Settings) -> str:
    """From the environment when set; else the generated one (made on first start)."""
    if settings.admin_password:
        return settings.admin_password
    path = password_file(settings)
    existed = path.exists()
    password = private_file(path, secrets.token_urlsafe(18))
    if not existed:
        log.warning("dashboard user 'admin': a password was generated into %s", path)
    return password


async def ensure_admin(engine: AsyncEngine, password: str) -> None:
    """The admin row holds the hash of the configured password: made when missing, replaced when
    the password was changed in the environment (the environment is the truth)."""
    async with engine.connect() as conn:
        stored = (await conn.execute(
            select(users.c.password_hash).where(users.c.username == ADMIN)
        )).scalar_one_or_none()
    if stored is not None and await asyncio.to_thread(password_matches, stored, password):
        return
    fresh = await asyncio.to_thread(hash_password, password)
    async with engine.begin() as conn:
        if stored is None:
            try:
                await conn.execute(users.insert().values(username=ADMIN, password_hash=fresh, role="admin",
                                                         created_at=time.time()))
            except IntegrityError:  # another process made it meanwhile
                return
        else:
            await conn.execute(update(users).where(users.c.username == ADMIN).values(password_hash=fresh))
