"""Files only the service's own user may read: the data folder (0700), the generated secrets in it
and the SQLite database (0600). Each is private from the moment it exists, never chmod-ed after
being written; one found looser (made by an older version, or by hand) is tightened and logged."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from sqlalchemy import make_url

log = logging.getLogger(__name__)
DIR_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """The folder, made 0700 when missing (its parents as the umask says); tightened when looser."""
    try:
        path.mkdir(mode=DIR_MODE, parents=True)
    except FileExistsError:
        _tighten(path, DIR_MODE)
    return path


def private_file(path: Path, make: str) -> str:
    """The file's content, writing `make` into it first if it does not exist: created with mode 0600
    in one step, because a file written first and chmod-ed after is readable in between."""
    private_dir(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE)
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as out:
        out.write(make + "\n")
    return make


def replace_private_file(path: Path, content: str) -> None:
    """Write the file whole or not at all: a 0600 sibling renamed over it (same folder, so atomic)."""
    private_dir(path.parent)
    fresh = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fresh.unlink(missing_ok=True)
    descriptor = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "w") as out:
        out.write(content)
        out.flush()
        os.fsync(out.fileno())
    os.replace(fresh, path)


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL; None for other stores and in-memory databases."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def private_sqlite_file(url: str) -> None:
    """Before SQLite opens it: the database file made empty with 0600 (SQLite gives its -wal and -shm
    files the database file's mode), or, when it exists, it and its companions tightened."""
    path = sqlite_path(url)
    if path is None:
        return
    if not path.parent.exists():
        private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        for each in (path, *(path.with_name(path.name + end) for end in SQLITE_COMPANIONS)):
            if each.exists():
                _tighten(each, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    found = stat.S_IMODE(path.stat().st_mode)
    if found & ~mode:
        path.chmod(found & mode)
        log.warning("%s was readable by others (mode %o): tightened to %o", path, found, found & mode)
