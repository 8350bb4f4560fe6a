"""Shared fixtures: one Ray instance for the session, fresh SQLite files and PostgreSQL databases,
and no test leaving tasks running on the session's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from store.migrate import upgrade
from tests.harness import code_checks
from tests.harness.loop_guard import cancel_leftovers

PG_HOST = os.environ.get("THREADCOUNT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
TIERS = ("unit", "integration", "e2e")
log = logging.getLogger(__name__)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test is marked with its tier (its folder), and every test that needs PostgreSQL (a
    `postgres` parameter or an explicit mark) with `postgres`. Without a reachable server those skip,
    saying why, except under CI (`CI` or `THREADCOUNT_REQUIRE_PG` set), where CI starts the server and
    a missing one must fail rather than pass quietly."""
    skip_pg = None if _postgres_required() or _postgres_reachable() else pytest.mark.skip(
        reason=f"PostgreSQL is not reachable at {PG_HOST} (start it, or point THREADCOUNT_TEST_PG at one)")
    for item in items:
        tier = Path(str(item.path)).relative_to(Path(__file__).parent).parts[0]
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "postgres" in callspec.params.values():
            item.add_marker(pytest.mark.postgres)
        if skip_pg is not None and item.get_closest_marker("postgres") is not None:
            item.add_marker(skip_pg)
    for item, group in zip(items, process_groups(items), strict=True):
        item.add_marker(pytest.mark.xdist_group(group))


def process_groups(items: list[pytest.Item]) -> list[str]:
    """Which tests run in one process when the suite runs in several (`--dist loadgroup`): a test
    file's tests together (its module fixtures start once), and every e2e file that uses the
    session's shared `demo`, or its shared `service`, with the others that do, in their order
    (tests/e2e/sharing.py): each shared service is started once, and its users see one another's
    work in the order they were written for."""
    from tests.e2e.sharing import shared_by

    module_group: dict[Path, str] = {}
    for item in items:
        path, shared = Path(str(item.path)), shared_by(item)
        if shared is not None and module_group.get(path) != "e2e-shared-demo":  # a module's demo wins
            module_group[path] = f"e2e-shared-{shared}"
    return [module_group.get(Path(str(item.path)), item.nodeid.split("::")[0]) for item in items]


def pytest_collection_finish(session: pytest.Session) -> None:
    """The code checks whose tests were collected start now, in the background at the lowest CPU
    priority (tests/harness/code_checks.py): they take the time the service tests spend waiting. In
    a run of several processes (xdist) none knows at collection which tests it will get: each check
    runs in its own test, still at nice 19, while the other process goes on."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    for item in session.items:
        name = item.name.removeprefix("test_").split("_finds_nothing")[0]
        if item.path.name == "test_code_quality.py" and name in code_checks.CHECKS:
            code_checks.start(name)


def pytest_sessionfinish(session: pytest.Session) -> None:
    code_checks.stop_all()


def _postgres_required() -> bool:
    return bool(os.environ.get("CI") or os.environ.get("THREADCOUNT_REQUIRE_PG"))


def _postgres_reachable() -> bool:
    address = urlsplit(PG_HOST)
    try:
        socket.create_connection((address.hostname or "127.0.0.1", address.port or 5432), timeout=2).close()
    except OSError:
        return False
    return True


@pytest.fixture(autouse=True)
def tasks_checked(request: pytest.FixtureRequest) -> None:
    """Every test gets no_tasks_left_behind, except while a loop already runs in this thread: the
    browser tests' Playwright sync API runs its own for the module, and the session loop cannot run
    inside it (those tests start no tasks on the session loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        request.getfixturevalue("no_tasks_left_behind")


@pytest_asyncio.fixture
async def no_tasks_left_behind(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Tasks a test started (itself included, when pytest-timeout ended it mid-await) and left
    running are cancelled after it, named in a warning with where each waited: on the one session
    loop they would otherwise run on in every later test. Wider-scoped fixtures are set up before
    this one, so their tasks are never touched (loop_guard)."""
    before = asyncio.all_tasks()
    yield
    found, stuck = await cancel_leftovers(before)
    if found:
        log.warning("%s left %d task(s) running, cancelled: %s", request.node.nodeid, len(found),
                    "; ".join(found))
    if stuck:
        log.warning("%s: %d task(s) did not finish after being cancelled: %s", request.node.nodeid,
                    len(stuck), "; ".join(stuck))


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The tests' Ray, set up as run.py sets up its own: token authentication, loopback only."""
    import ray

    from service.ray_security import secure_ray

    os.environ.setdefault("RAY_worker_niceness", "0")
    options = secure_ray(tmp_path_factory.mktemp("ray"), local=True)
    ray.init(address="local", include_dashboard=False, logging_level=logging.ERROR, num_cpus=2,
             namespace=f"threadcount-tests-{uuid.uuid4().hex[:6]}", **options)
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


@contextlib.asynccontextmanager
async def store_database(store: str, folder: Path) -> AsyncIterator[str]:
    """A new, migrated database of `store`: "sqlite" (a file in `folder`) or "postgres"."""
    if store == "sqlite":
        yield await sqlite_database(folder)
    else:
        async with postgres_database() as url:
            yield url


@pytest_asyncio.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test that takes it runs on both stores."""
    async with store_database(request.param, tmp_path) as url:
        yield url
