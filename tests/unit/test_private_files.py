"""The data folder and what is in it are the service user's only, from creation; what an older
version left looser is tightened and logged."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from store.private_files import private_dir, private_file, private_sqlite_file, replace_private_file


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_folder_is_made_0700(tmp_path: Path) -> None:
    private_dir(tmp_path / "a" / "data")
    assert mode(tmp_path / "a" / "data") == 0o700


def test_a_looser_data_folder_is_tightened_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with caplog.at_level(logging.WARNING):
        private_dir(folder)
    assert mode(folder) == 0o700
    assert f"{folder} was readable by others (mode 755): tightened to 700" in caplog.text


def test_a_private_file_is_0600_in_a_0700_folder_and_a_looser_one_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret"
    assert private_file(path, "s1") == "s1"
    assert (mode(path), mode(path.parent)) == (0o600, 0o700)
    path.chmod(0o644)
    assert private_file(path, "s2") == "s1"
    assert mode(path) == 0o600


def test_a_replaced_private_file_is_whole_and_0600(tmp_path: Path) -> None:
    path = tmp_path / "key"
    path.write_text("old\n")
    path.chmod(0o644)
    replace_private_file(path, "new\n")
    assert (path.read_text(), mode(path)) == ("new\n", 0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["key"]


def test_the_sqlite_file_exists_0600_before_sqlite_opens_it(tmp_path: Path) -> None:
    database = tmp_path / "data" / "threadcount.db"
    private_sqlite_file(f"sqlite+aiosqlite:///{database}")
    assert (mode(database), mode(database.parent), database.stat().st_size) == (0o600, 0o700, 0)


def test_an_existing_looser_sqlite_file_and_its_wal_are_tightened(tmp_path: Path) -> None:
    database, wal = tmp_path / "threadcount.db", tmp_path / "threadcount.db-wal"
    for path in (database, wal):
        path.write_bytes(b"")
        path.chmod(0o644)
    private_sqlite_file(f"sqlite+aiosqlite:///{database}")
    assert (mode(database), mode(wal)) == (0o600, 0o600)


def test_other_stores_and_memory_databases_have_no_file_to_guard(tmp_path: Path) -> None:
    private_sqlite_file("postgresql+asyncpg://u@127.0.0.1:5432/test")
    private_sqlite_file("sqlite+aiosqlite:///:memory:")
    private_sqlite_file("sqlite+aiosqlite://")
    assert list(tmp_path.iterdir()) == []
