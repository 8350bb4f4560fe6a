"""Runs a shard's store functions (store/shard_store.py) in one database hop each.

SQLite: a synchronous engine on one dedicated thread, writers handed over by a file lock.
PostgreSQL: the async engine (asyncpg), the same functions through `run_sync`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from store.checkpoint import WalCheckpointer
from store.engine import ACTOR_IDLE_IN_TRANSACTION_S, is_sqlite, make_engine, make_sync_engine
from store.writelock import WriterLock

T = TypeVar("T")


class ShardDatabase:
    def __init__(self, url: str, sqlite_synchronous: str = "FULL", checkpointer: bool = False):
        """`checkpointer`: this one (one per store; the first shard's) moves the WAL into the file."""
        self._sqlite = is_sqlite(url)
        self._checkpointer: WalCheckpointer | None = None
        if self._sqlite:
            self._engine = make_sync_engine(url, sqlite_synchronous, checkpoint_on_commit=False)
            if checkpointer:
                self._checkpointer = WalCheckpointer(self._engine)
                self._checkpointer.start()
            # Reads on a thread (and connection) of their own, so a batch's look-ups need not queue
            # behind the previous batch's commit; WAL lets them read the last committed state.
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shard-db-write")
            self._read_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shard-db-read")
        else:
            self._async_engine = make_engine(url, pool_size=2,
                                             idle_in_transaction_s=ACTOR_IDLE_IN_TRANSACTION_S)
        self._writer = WriterLock(url)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        if self._sqlite:
            def run() -> T:
                with self._engine.execution_options(sqlite_begin="DEFERRED").connect() as conn:
                    return fn(conn, *args)

            return await asyncio.get_running_loop().run_in_executor(self._read_thread, run)
        async with self._async_engine.connect() as aconn:
            return await aconn.run_sync(fn, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn` runs in one transaction, committed before this returns (what it returns)."""
        async with self._writer:
            if self._sqlite:
                return await asyncio.get_running_loop().run_in_executor(self._thread, self._write, fn, args)
            async with self._async_engine.begin() as aconn:
                return await aconn.run_sync(fn, *args)

    def _write(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._engine.begin() as conn:
            return fn(conn, *args)

    async def close(self) -> None:
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.stop)
        if self._sqlite:
            await asyncio.get_running_loop().run_in_executor(self._thread, self._engine.dispose)
            self._thread.shutdown(wait=False)
            self._read_thread.shutdown(wait=False)
        else:
            await self._async_engine.dispose()
        self._writer.close()

