"""The data folder as a start leaves it, with a real SQLite file: the folder 0700, and the database,
its -wal and -shm files, the key file and the API token 0600, whatever the process umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.config import load_settings
from service.runtime import Runtime
from store.schema import audit_log


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    before = os.umask(0o022)   # what a shell usually has: new files 0644, new folders 0755
    yield
    os.umask(before)


async def test_a_first_start_makes_the_data_folder_and_everything_secret_in_it_private(
        tmp_path: Path, loose_umask: None) -> None:
    data = tmp_path / "data"
    runtime = Runtime(load_settings(None, {"THREADCOUNT_DATA_DIR": str(data)}))
    runtime.prepare_secrets()
    await runtime.open_store()
    try:
        async with runtime.engine.begin() as conn:   # a write, so the WAL and its index exist
            await conn.execute(audit_log.insert().values(at=1.0, actor="t", action="test"))
        files = ["threadcount.db", "threadcount.db-wal", "threadcount.db-shm", "secret.key", "admin_token"]
        assert mode(data) == 0o700
        assert {name: oct(mode(data / name)) for name in files} == dict.fromkeys(files, "0o600")
    finally:
        await runtime.engine.dispose()


async def test_a_data_folder_an_older_version_left_open_is_tightened_at_start(
        tmp_path: Path, loose_umask: None) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "threadcount.db").write_bytes(b"")
    (data / "threadcount.db").chmod(0o644)
    runtime = Runtime(load_settings(None, {"THREADCOUNT_DATA_DIR": str(data)}))
    runtime.prepare_secrets()
    await runtime.open_store()
    await runtime.engine.dispose()
    assert (mode(data), mode(data / "threadcount.db")) == (0o700, 0o600)
