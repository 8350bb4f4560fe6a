"""Whether the sessions of a web process's open event streams still stand, for all of them at once.

An open stream ends soon after its session does (a log-out, an expiry, a disabled user, a changed
password: each deletes or disables what the check reads). Each stream used to look its own session
up every few seconds: 500 dashboards opened together made 500 lookups together every 3 s, and in the
benchmark they were about half of the web process's CPU for its streams. Now one task asks the store
about every watched session in one query every CHECK_EVERY seconds, and a stream reads the answer
from memory each time it wakes (at least every 2 x NUDGE_SECONDS, web/dashboard/fanout.py): it ends
within CHECK_EVERY + 2 x NUDGE_SECONDS of its session's end, plus the query's time. A stream without
a session (opened with a bearer token) is held under "", which never stands: it ends at the first
check. A failed check ends nothing; the next one comes CHECK_EVERY later."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)
CHECK_EVERY = 2.0  # seconds between two checks of every watched session

Standing = Callable[[set[str]], Awaitable[set[str]]]  # of these session keys, those that stand


class SessionWatch:
    def __init__(self, standing: Standing, every: float = CHECK_EVERY):
        self._standing = standing
        self._every = every
        self._held: Counter[str] = Counter()  # session key -> its open streams
        self._ended: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self.checks = 0

    def hold(self, key: str) -> None:
        """A stream of this session opens (its key: the session id's hash, "" for none)."""
        self._held[key] += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def release(self, key: str) -> None:
        """A stream of this session ends."""
        self._held[key] -= 1
        if self._held[key] <= 0:
            del self._held[key]
            self._ended.discard(key)

    def ended(self, key: str) -> bool:
        return key in self._ended

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        try:
            while self._held:
                await asyncio.sleep(self._every)
                watched = set(self._held)
                if not watched:
                    break
                self.checks += 1
                try:
                    standing = await self._standing(watched - {""})
                except Exception as exc:  # the store is away: no stream is ended for it
                    log.warning("checking the sessions of %d open event streams failed: %s",
                                len(watched), exc)
                    continue
                self._ended = {key for key in watched - standing if key in self._held}
        finally:
            if self._task is asyncio.current_task():  # not a later task, started after a close
                self._task = None
