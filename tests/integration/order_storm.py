"""A storm of orders over HTTP with duplicate deliveries and retries, and what it measured.

Each client places orders one after another, for `seconds`: every order (channel `direct`, a unique
external id, one or two lines) is delivered twice at once, and a third of them once more a moment
later, as a partner that redelivers would. A delivery that gets a 503, no answer within
`attempt_timeout` or a broken connection is sent again with the same body (the API says a retry is
safe) until it gets any other answer. Faults (`Fault`: a callable run in a thread at a fraction of
the storm) happen beside the clients; each records when it struck.

Everything is recorded per attempt (start, end, status), so the test can derive: every
acknowledged order (2xx) and the first answer for it; the failover time after each fault (per SKU,
the longest gap between two 2xx answers for orders of that SKU from the fault to the next one: order
taking for that SKU's shard stopped that long); the slowest 503; the attempts that ran past a limit
without an answer."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Attempt:
    external_id: str
    skus: tuple[str, ...]
    started: float       # time.monotonic()
    ended: float
    status: int | None   # None: no answer (timeout, connection error)
    error: str = ""

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class Fault:
    at: float                          # fraction of the storm's duration
    name: str
    action: Callable[[], Any]          # run in a thread; returns a description for the record
    struck: float | None = None        # time.monotonic() when the action returned
    result: Any = None


@dataclass
class StormRecord:
    started: float = 0.0
    ended: float = 0.0
    attempts: list[Attempt] = field(default_factory=list)
    answers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # external id -> 2xx bodies
    orders: dict[str, list[dict[str, Any]]] = field(default_factory=dict)   # external id -> lines sent
    refused: list[tuple[str, int, str]] = field(default_factory=list)       # non-2xx, non-503 answers

    def unanswered(self) -> list[str]:
        return [ext for ext in self.orders if not self.answers.get(ext)]

    def last_reserved(self) -> dict[str, float]:
        """Per SKU, when the last answer that reserved some of it came (about when it sold out)."""
        last: dict[str, float] = {}
        ended: dict[str, float] = {}
        for a in self.attempts:   # in the order they ended: the first answer of each order
            if a.status in (200, 201):
                ended.setdefault(a.external_id, a.ended)
        for ext, answers in self.answers.items():
            for line in answers[0]["lines"]:
                if line["reserved"]:
                    last[line["sku"]] = max(last.get(line["sku"], 0.0), ended[ext])
        return last

    def slowest(self, status: int | None) -> float:
        return max((a.seconds for a in self.attempts if a.status == status), default=0.0)

    def over(self, limit: float) -> list[Attempt]:
        """Attempts that took longer than `limit` to get an answer (or to be given up)."""
        return [a for a in self.attempts if a.seconds > limit]

    def failover_gaps(self, start: float, end: float) -> dict[str, float]:
        """Per SKU: the longest stretch within [start, end] without a 2xx answer for an order of it."""
        done: dict[str, list[float]] = {}
        for a in self.attempts:
            if a.status is not None and 200 <= a.status < 300:
                for sku in a.skus:
                    done.setdefault(sku, []).append(a.ended)
        gaps = {}
        for sku, times in done.items():
            points = [start, *sorted(t for t in times if start < t <= end), end]
            gaps[sku] = max(b - a for a, b in itertools.pairwise(points))
        return gaps


class OrderStorm:
    def __init__(self, base: str, token: str, skus: list[str], *, clients: int, seconds: float,
                 attempt_timeout: float, drain: float = 30.0, seed: int = 7) -> None:
        self.base, self.token, self.skus = base, token, skus
        self.clients, self.seconds = clients, seconds
        self.attempt_timeout, self.drain = attempt_timeout, drain
        self.rng = random.Random(seed)
        self.record = StormRecord()
        self._late: list[asyncio.Task[None]] = []

    async def run(self, faults: list[Fault]) -> StormRecord:
        limits = httpx.Limits(max_connections=4 * self.clients, max_keepalive_connections=4 * self.clients)
        async with httpx.AsyncClient(base_url=self.base, limits=limits,
                                     headers={"Authorization": f"Bearer {self.token}"}) as http:
            self.record.started = time.monotonic()
            stop_at = self.record.started + self.seconds
            give_up_at = stop_at + self.drain
            tasks = [asyncio.create_task(self._client(http, n, stop_at, give_up_at))
                     for n in range(self.clients)]
            faulting = asyncio.create_task(self._faults(faults))
            await asyncio.gather(*tasks)
            await faulting
            await asyncio.gather(*self._late)
            self.record.ended = time.monotonic()
        return self.record

    async def _faults(self, faults: list[Fault]) -> None:
        for fault in sorted(faults, key=lambda f: f.at):
            wait = self.record.started + fault.at * self.seconds - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            fault.result = await asyncio.to_thread(fault.action)
            fault.struck = time.monotonic()

    async def _client(self, http: httpx.AsyncClient, n: int, stop_at: float, give_up_at: float) -> None:
        rng = random.Random(self.rng.random())
        i = 0
        while time.monotonic() < stop_at:
            i += 1
            ext = f"storm-{n}-{i}"
            skus = rng.sample(self.skus, rng.choice((1, 1, 1, 2)))
            lines = [{"sku": sku, "quantity": rng.randint(1, 2)} for sku in skus]
            self.record.orders[ext] = lines
            body = {"channel": "direct", "external_id": ext, "lines": lines}
            await asyncio.gather(self._deliver(http, body, give_up_at), self._deliver(http, body, give_up_at))
            if rng.random() < 1 / 3:
                self._late.append(asyncio.create_task(
                    self._deliver(http, body, give_up_at, delay=rng.uniform(0.2, 2.0))))

    async def _deliver(self, http: httpx.AsyncClient, body: dict[str, Any], give_up_at: float,
                       delay: float = 0.0) -> None:
        if delay:
            await asyncio.sleep(delay)
        ext = body["external_id"]
        skus = tuple(line["sku"] for line in body["lines"])
        while time.monotonic() < give_up_at:
            started = time.monotonic()
            status: int | None = None
            error = ""
            try:
                answer = await http.post("/api/v1/orders", json=body, timeout=self.attempt_timeout)
                status = answer.status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            self.record.attempts.append(Attempt(ext, skus, started, time.monotonic(), status, error))
            if status is not None and 200 <= status < 300:
                self.record.answers.setdefault(ext, []).append(answer.json())
                return
            if status is not None and status != 503:
                self.record.refused.append((ext, status, answer.text[:300]))
                return
            await asyncio.sleep(0.1)
