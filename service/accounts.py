"""The account use cases the REST API and the dashboard share: users (create, change, disable), API
keys (create, shown once; revoke) and dashboard sessions, and turning a bearer key or a session id
into a Principal.

Looking a key or a session up asks the store, and the answer is trusted for at most TTL (1 s) in
this process; a revoke, a logout, a password change, a role change or a disable made through this
process drops the cached answers at once, so here it takes effect on the next request and in any
other web process within a second. `last_used_at` of a key (and `last_seen_at` of a session) is
written at most once a minute each, beside the request, never in its way."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncEngine

from service.principals import Principal, Role, key_actor
from store import accounts as store
from store import audit
from store.accounts import Holder, Taken

log = logging.getLogger(__name__)
KEY_PREFIX = "tc_"
TTL = 1.0                       # seconds a looked-up key or session is believed without the store
TOUCH_EVERY = 60.0              # seconds between writes of a key's last_used_at / a session's last_seen_at
SESSION_LIFETIME = 12 * 3600.0  # seconds: one working day; then log in again
CACHED = 10_000                 # answers remembered at most (then forgotten all at once)
_hasher = PasswordHasher()

__all__ = ["Accounts", "Taken", "digest", "hash_password", "password_matches"]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    """Only what we hand out is worth a look in the store: a wrong header costs nothing."""
    return token.startswith(KEY_PREFIX) and 40 <= len(token) <= 64 and token[len(KEY_PREFIX):].replace(
        "-", "").replace("_", "").isalnum() and token.isascii()


class Accounts:
    def __init__(self, engine: Callable[[], AsyncEngine], clock: Callable[[], float] = time.monotonic):
        self._engine = engine
        self._clock = clock
        # hash of a key or session id -> (believed until, who, key id)
        self._answers: dict[str, tuple[float, Principal | None, int | None]] = {}
        self._touched: dict[tuple[str, object], float] = {}
        self._writes: set[asyncio.Task[None]] = set()

    # --- users ------------------------------------------------------------------------------------

    async def create_user(self, username: str, password: str, role: Role, email: str | None,
                          phone: str | None, actor: str) -> dict[str, Any]:
        hashed = await asyncio.to_thread(hash_password, password)
        created = await store.create_user(self._engine(), username, hashed, role.value, email, phone)
        await audit.record(self._engine(), actor, "user.create", username, role=role.value)
        return created

    async def users(self) -> list[dict[str, Any]]:
        return await store.list_users(self._engine())

    async def update_user(self, username: str, actor: str, *, role: Role | None = None,
                          password: str | None = None, email: str | None = None, phone: str | None = None,
                          disabled: bool | None = None) -> dict[str, Any] | None:
        """Changes what is given; a new password or a disable ends the user's sessions at once.
        None when there is no such user."""
        given = (("email", email), ("phone", phone), ("disabled", disabled))
        changes: dict[str, Any] = {name: value for name, value in given if value is not None}
        if role is not None:
            changes["role"] = role.value
        if password is not None:
            changes["password_hash"] = await asyncio.to_thread(hash_password, password)
            changes["password_changed_at"] = time.time()
        if not await store.update_user(self._engine(), username, changes,
                                       end_sessions=password is not None or disabled is True):
            return None
        self._forget(lambda who, _key: who is not None and who.name == username)
        told = {name: ("changed" if name == "password_hash" else value) for name, value in changes.items()
                if name != "password_changed_at"}
        await audit.record(self._engine(), actor, "user.update", username, **told)
        return await store.user(self._engine(), username)

    async def authenticate(self, username: str, password: str) -> bool:
        """The password is right and the user may log in. argon2 takes tens of milliseconds of CPU
        by design: off the event loop, so logins (and guesses) do not stall other requests."""
        found = await store.login_record(self._engine(), username)
        if found is None:
            await asyncio.to_thread(hash_password, password)  # as slow as a real check: timing tells nothing
            return False
        stored, disabled = found
        return await asyncio.to_thread(password_matches, stored, password) and not disabled

    # --- API keys ---------------------------------------------------------------------------------

    async def create_key(self, name: str, role: Role, actor: str) -> dict[str, Any]:
        """The key itself is in the answer, this once; the store keeps only its hash."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        created = await store.create_key(self._engine(), name, role.value, digest(key))
        await audit.record(self._engine(), actor, "api_key.create", key_actor(name), role=role.value)
        return {**created, "key": key}

    async def keys(self) -> list[dict[str, Any]]:
        return await store.list_keys(self._engine())

    async def revoke_key(self, key_id: int, actor: str) -> bool:
        name = await store.revoke_key(self._engine(), key_id)
        if name is None:
            return False
        self._forget(lambda _who, key: key == key_id)
        await audit.record(self._engine(), actor, "api_key.revoke", key_actor(name), id=key_id)
        return True

    async def key_principal(self, key: str) -> Principal | None:
        if not looks_like_key(key):
            return None
        hashed = digest(key)
        known = self._known(hashed)
        if known is not None:
            return known[0]
        found = await store.key_holder(self._engine(), hashed)
        if found is None:
            return self._remember(hashed, None, None)
        key_id, holder = found
        self._touch(("key", key_id), lambda at: store.key_used(self._engine(), key_id, at))
        return self._remember(hashed, _principal(holder, key_actor(holder.name)), key_id)

    # --- dashboard sessions -----------------------------------------------------------------------

    async def start_session(self, username: str) -> str:
        """A new session id for the cookie; the store keeps its hash."""
        token = secrets.token_urlsafe(32)
        await store.create_session(self._engine(), digest(token), username, SESSION_LIFETIME)
        return token

    async def session_principal(self, token: str) -> Principal | None:
        hashed = digest(token)
        known = self._known(hashed)
        if known is not None:
            return known[0]
        holder = await store.session_holder(self._engine(), hashed)
        if holder is None or holder.disabled:
            return self._remember(hashed, None, None)
        self._touch(("session", hashed), lambda at: store.session_seen(self._engine(), hashed, at))
        return self._remember(hashed, _principal(holder, holder.name), None)

    async def sessions_standing(self, hashed: set[str]) -> set[str]:
        """Of these sessions (their ids' hashes, `digest`), those that stand now: the store's answer,
        never the short memory's (the open event streams' check, web/dashboard/session_watch.py)."""
        return await store.sessions_standing(self._engine(), hashed) if hashed else set()

    async def end_session(self, token: str) -> None:
        hashed = digest(token)
        await store.delete_session(self._engine(), hashed)
        self._answers.pop(hashed, None)

    # --- the short memory -------------------------------------------------------------------------

    def _known(self, hashed: str) -> tuple[Principal | None] | None:
        found = self._answers.get(hashed)
        if found is None or found[0] <= self._clock():
            return None
        return (found[1],)

    def _remember(self, hashed: str, who: Principal | None, key_id: int | None) -> Principal | None:
        if len(self._answers) >= CACHED:
            self._answers.clear()
        self._answers[hashed] = (self._clock() + TTL, who, key_id)
        return who

    def _forget(self, matches: Callable[[Principal | None, int | None], bool]) -> None:
        for hashed, (_, who, key_id) in list(self._answers.items()):
            if matches(who, key_id):
                del self._answers[hashed]

    def _touch(self, what: tuple[str, object], write: Callable[[float], Coroutine[Any, Any, None]]) -> None:
        now = self._clock()
        if now - self._touched.get(what, -TOUCH_EVERY) < TOUCH_EVERY:
            return
        if len(self._touched) >= CACHED:
            self._touched.clear()
        self._touched[what] = now
        task = asyncio.get_running_loop().create_task(self._quietly(write(time.time())))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    @staticmethod
    async def _quietly(write: Coroutine[Any, Any, None]) -> None:
        try:
            await write
        except Exception:  # a missed "last used" is no reason to fail anything
            log.warning("writing a last-used time failed", exc_info=True)


def _principal(holder: Holder, name: str) -> Principal:
    return Principal(name, Role.parse(holder.role) or Role.VIEWER)
