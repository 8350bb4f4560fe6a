"""Moves SQLite's write-ahead log into the database file in the background.

By default SQLite checkpoints inside whichever commit pushes the log past 1,000 pages. Group commits
of thousands of rows did that nearly every time, and the checkpoint (copying the pages into the
database and syncing it) ran while the committing shard held the writer lock: it was the largest
single cost of a commit. Shards therefore commit without checkpointing, and one WalCheckpointer per
store runs PASSIVE checkpoints beside them, which never block a writer.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

log = logging.getLogger(__name__)


class WalCheckpointer:
    def __init__(self, engine: Engine, interval: float = 0.5):
        self._engine = engine
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self.checkpoints = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        with self._engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            while not self._stop.wait(self._interval):
                self._checkpoint(raw, "PASSIVE")
            self._checkpoint(raw, "TRUNCATE")  # leave a small log behind

    def _checkpoint(self, raw: object, mode: str) -> None:
        try:
            raw.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()  # type: ignore[attr-defined]
            self.checkpoints += 1
        except Exception as exc:  # a busy database now is a checkpoint later, not a failure
            log.warning("WAL checkpoint (%s) did not run: %s", mode, exc)
