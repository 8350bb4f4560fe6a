"""Partner reconciliations as jobs: a reconcile reads every listing at the partner's rate (minutes
for Amazon), so the request that asks for one gets the job at once and polls it. Shared by the REST
API and the dashboard's button. Kept in memory of the web process (the last few per partner): a
restart forgets finished jobs, and a running one ends with the process like any other request."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
KEEP = 50  # finished jobs remembered (the newest), besides every running one


@dataclass
class ReconcileJob:
    partner_id: str
    actor: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    started_at: float = field(default_factory=time.time)
    status: str = "running"            # running | done | failed
    result: dict[str, int] | None = None
    error: str = ""
    finished_at: float | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event, repr=False)


class ReconcileJobs:
    """`run(partner_id)` is the reconcile itself; `on_done(job)` is told of each finished job (the
    audit trail). One running job per partner: asking again while it runs returns that job."""

    def __init__(self, run: Callable[[str], Awaitable[dict[str, int]]],
                 on_done: Callable[[ReconcileJob], Awaitable[None]] | None = None):
        self._run, self._on_done = run, on_done
        self._jobs: OrderedDict[str, ReconcileJob] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, partner_id: str, actor: str) -> tuple[ReconcileJob, bool]:
        """The partner's running job (and False), or a new one started (and True)."""
        for job in self._jobs.values():
            if job.partner_id == partner_id and job.status == "running":
                return job, False
        job = ReconcileJob(partner_id, actor)
        self._jobs[job.id] = job
        self._forget_old()
        task = asyncio.ensure_future(self._work(job))
        self._tasks.add(task)  # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)
        return job, True

    async def _work(self, job: ReconcileJob) -> None:
        try:
            job.result = dict(await self._run(job.partner_id))
            job.status = "done"
        except Exception as exc:  # the partner failed to answer (its breaker, a 5xx): say so
            cause = getattr(exc, "cause", None) or exc
            job.error = f"{job.partner_id} could not be read: {type(cause).__name__}: {cause}"
            job.status = "failed"
            log.warning("reconcile job %s failed: %s", job.id, job.error)
        finally:
            job.finished_at = time.time()
            job.finished.set()
        if self._on_done is not None:
            try:
                await self._on_done(job)
            except Exception:
                log.exception("reconcile job %s: recording its end failed", job.id)

    def _forget_old(self) -> None:
        finished = [job.id for job in self._jobs.values() if job.status != "running"]
        for job_id in finished[:max(0, len(finished) - KEEP)]:
            self._jobs.pop(job_id)

    def get(self, job_id: str) -> ReconcileJob | None:
        return self._jobs.get(job_id)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def job_view(job: ReconcileJob, iso: Callable[[float], str]) -> dict[str, Any]:
    view: dict[str, Any] = {"id": job.id, "kind": "reconcile", "partner": job.partner_id,
                            "status": job.status, "started_at": iso(job.started_at),
                            "finished_at": iso(job.finished_at) if job.finished_at else None}
    if job.status == "done":
        view["result"] = job.result
    if job.status == "failed":
        view["error"] = job.error
    return view
