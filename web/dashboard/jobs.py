"""Bulk uploads run as jobs in the web process: checked first, then applied in chunks while the page
polls the job's progress. Kept in memory (the last few), like the page that watches them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from web.dashboard.csv_rows import Rejected

log = logging.getLogger(__name__)
KEEP = 20


@dataclass
class Job:
    kind: str
    filename: str
    actor: str
    total: int  # rows to apply (those that passed the check)
    rejected: list[Rejected] = field(default_factory=list)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    done: int = 0
    applied: int = 0
    finished: bool = False
    error: str = ""

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.done / self.total)

    def sorted_rejected(self) -> list[Rejected]:
        return sorted(self.rejected, key=lambda r: r.row)


class Jobs:
    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, job: Job, work: Callable[[Job], Awaitable[None]]) -> Job:
        self._jobs[job.id] = job
        while len(self._jobs) > KEEP:
            oldest = next(iter(self._jobs.values()))
            if not oldest.finished:
                break
            self._jobs.pop(oldest.id)
        task = asyncio.ensure_future(self._run(job, work))
        self._tasks.add(task)  # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, job: Job, work: Callable[[Job], Awaitable[None]]) -> None:
        try:
            await work(job)
        except Exception as exc:
            log.exception("bulk job %s (%s) failed", job.id, job.kind)
            job.error = f"stopped after {job.done} of {job.total} rows: {exc}"
        finally:
            job.finished = True

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def recent(self) -> list[Job]:
        return list(reversed(self._jobs.values()))
