"""The account use cases over a real store (SQLite and PostgreSQL): a key or a session is believed
for at most a second, and a revoke, a logout, a password change or a disable in this process ends
it on the very next look-up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from service.accounts import TTL, Accounts, digest
from service.principals import Principal, Role
from store.accounts import IN_LIST
from store.engine import make_engine
from store.schema import sessions, users

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def accounts(database_url: str) -> AsyncIterator[tuple[Accounts, Clock]]:
    engine = make_engine(database_url)
    clock = Clock()
    try:
        yield Accounts(lambda: engine, clock), clock
    finally:
        await engine.dispose()


async def test_a_revoked_key_is_refused_at_the_next_look_up_though_it_was_just_believed(
        accounts: tuple[Accounts, Clock]) -> None:
    book, _ = accounts
    made = await book.create_key("reporting", Role.VIEWER, "admin-token")
    assert await book.key_principal(made["key"]) == Principal("key:reporting", Role.VIEWER)
    assert await book.revoke_key(made["id"], "admin-token")
    assert await book.key_principal(made["key"]) is None
    assert not await book.revoke_key(999_999, "admin-token")


async def test_another_process_s_revoke_is_seen_within_the_ttl(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        clock = Clock()
        here, there = Accounts(lambda: engine, clock), Accounts(lambda: engine, clock)
        made = await here.create_key("sync-job", Role.CLERK, "admin-token")
        assert await here.key_principal(made["key"]) is not None
        await there.revoke_key(made["id"], "admin-token")
        clock.now += TTL
        assert await here.key_principal(made["key"]) is None
    finally:
        await engine.dispose()


async def test_a_session_ends_with_a_logout_a_password_change_or_a_disable(
        accounts: tuple[Accounts, Clock]) -> None:
    book, _ = accounts
    await book.create_user("alice", "a long password", Role.CLERK, "alice@example.com", None, "admin-token")
    assert await book.authenticate("alice", "a long password")
    first = await book.start_session("alice")
    assert await book.session_principal(first) == Principal("alice", Role.CLERK)
    await book.end_session(first)
    assert await book.session_principal(first) is None
    second = await book.start_session("alice")
    assert await book.session_principal(second) is not None
    await book.update_user("alice", "admin-token", password="another long password")
    assert await book.session_principal(second) is None
    third = await book.start_session("alice")
    await book.update_user("alice", "admin-token", role=Role.MANAGER)
    assert await book.session_principal(third) == Principal("alice", Role.MANAGER)  # a role change: at once
    await book.update_user("alice", "admin-token", disabled=True)
    assert await book.session_principal(third) is None
    assert not await book.authenticate("alice", "another long password")


async def test_no_password_is_stored_and_unknown_users_are_not_changed(
        accounts: tuple[Accounts, Clock], database_url: str) -> None:
    book, _ = accounts
    made = await book.create_user("bob", "bobs long password", Role.VIEWER, None, "+1 555", "admin-token")
    assert "password" not in str(made) and "password_hash" not in made
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            stored = (await conn.execute(select(users.c.password_hash).where(users.c.username == "bob"))).scalar()
    finally:
        await engine.dispose()
    assert stored is not None and stored.startswith("$argon2") and "bobs long password" not in stored
    assert await book.update_user("nobody", "admin-token", role=Role.ADMIN) is None


async def test_one_call_tells_which_of_more_sessions_than_one_query_takes_still_stand(database_url: str) -> None:
    engine = make_engine(database_url)
    book = Accounts(lambda: engine)
    try:
        for name in ("dana", "eli", "fay", "gus"):
            await book.create_user(name, "a long password", Role.VIEWER, None, None, "admin-token")
        standing = [await book.start_session("dana") for _ in range(IN_LIST + 20)]
        logged_out = await book.start_session("dana")
        await book.end_session(logged_out)
        disabled = await book.start_session("eli")
        await book.update_user("eli", "admin-token", disabled=True)
        changed = await book.start_session("fay")
        await book.update_user("fay", "admin-token", password="another long password")
        expired = await book.start_session("gus")
        async with engine.begin() as conn:
            await conn.execute(update(sessions).where(sessions.c.id == digest(expired)).values(expires_at=0))
        asked = {digest(token) for token in [*standing, logged_out, disabled, changed, expired]}
        assert await book.sessions_standing(asked | {digest("never issued")}) == {digest(t) for t in standing}
        assert await book.sessions_standing(set()) == set()
    finally:
        await engine.dispose()
