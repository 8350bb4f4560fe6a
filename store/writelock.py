"""One writer at a time on a SQLite file, handed over by the kernel.

Several shard processes group-commit into one SQLite file. SQLite's own busy handler polls with
sleeps that grow to tens of milliseconds, which showed up as most of the p99 under load; an
exclusive flock wakes the next writer the moment the last one commits. PostgreSQL needs none of it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from types import TracebackType

from sqlalchemy.engine import make_url


class WriterLock:
    def __init__(self, database_url: str):
        url = make_url(database_url)
        database = url.database or ""
        self._path = f"{database}.writer-lock" if url.get_backend_name() == "sqlite" and database and \
            database != ":memory:" else None
        self._fd: int | None = None

    async def __aenter__(self) -> None:
        if self._path is None:
            return
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            await asyncio.to_thread(fcntl.flock, self._fd, fcntl.LOCK_EX)

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
