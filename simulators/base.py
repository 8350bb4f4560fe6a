"""What every simulator shares: the shown quantities, the `/_sim/*` control surface, fault
injection, server-side rate allowances that count violations, webhook delivery with the partner's
retries and occasional duplicates, and a shopper that buys now and then. Time comes from
`config.clock` (real time unless a test gives a `ManualClock`).

Restarts: with `config.state_dir` set, a simulator keeps what the real partner keeps (the listings
it shows, its orders, its ids, and what each partner adds through `snapshot`/`restore`) in
`<state_dir>/<partner id>.json`: loaded at start, saved atomically within `SAVE_EVERY` of a change
and at stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import ClientSession, ClientTimeout, web

from simulators.clock import Clock, SystemClock
from simulators.control import PREFIX, ControlSurface, Faults
from simulators.ratelimit import Allowance, Quota
from simulators.state import StateFile
from simulators.webhooks import Courier, HeadersFor

__all__ = ["Faults", "SimConfig", "SimOrder", "Simulator", "bound_port"]
log = logging.getLogger(__name__)
SAVE_EVERY = 0.5  # seconds: changes within it are saved together
STOP_WAIT = 10.0  # seconds stop() waits for the simulator's own tasks to end once cancelled


@dataclass
class SimConfig:
    partner_id: str
    credentials: dict[str, str]
    skus: list[str]
    webhook_url: str | None = None          # where signed webhooks go (Threadcount's ingress)
    initial_quantity: int = 0               # shown before the first push
    shopper_interval: float | None = None   # seconds between shopper orders; None: no shopper
    duplicate_rate: float = 0.0             # share of webhooks delivered twice
    retry_delays: tuple[float, ...] = (0.5, 2.0, 5.0, 15.0, 30.0)  # the partner's schedule, shortened
    token_ttl: float = 3600.0               # access token lifetime, seconds
    options: dict[str, Any] = field(default_factory=dict)
    clock: Clock = field(default_factory=SystemClock)
    state_dir: Path | None = None           # where the partner's state survives a restart


@dataclass
class SimOrder:
    order_id: str
    sku: str
    quantity: int
    status: str
    created_at: float
    updated_at: float
    extra: dict[str, Any] = field(default_factory=dict)


class Simulator(ABC):
    kind: ClassVar[str]

    def __init__(self, config: SimConfig):
        self.config = config
        self.clock = config.clock
        self.listings: dict[str, int] = {sku: config.initial_quantity for sku in config.skus}
        self.orders: dict[str, SimOrder] = {}
        self.faults = Faults()
        self.stats: Counter[str] = Counter()
        self._allowances: dict[str, Allowance] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_id = 0
        state_dir = config.state_dir
        self._state = None if state_dir is None else StateFile(state_dir / f"{config.partner_id}.json")
        self._runner: web.AppRunner | None = None
        self._courier = Courier(self.kind, self.clock, self.stats, config.retry_delays,
                                config.duplicate_rate, self.spawn)
        self.port = 0

    # --- what each partner defines -------------------------------------------------------------

    @abstractmethod
    def routes(self) -> list[web.RouteDef]:
        """The partner's own API."""

    @abstractmethod
    async def record_order(self, sku: str, quantity: int) -> SimOrder:
        """A shopper bought: record it the partner's way and notify (webhook or wait to be polled)."""

    async def change_order(self, order: SimOrder, status: str) -> None:
        """The partner ships or cancels an order (`status` is "shipped" or "cancelled"): record it the
        partner's way and notify."""
        raise NotImplementedError

    @abstractmethod
    def error_response(self, status: int, message: str) -> web.Response:
        """The partner's error shape."""

    @abstractmethod
    def throttled_response(self, retry_after: float) -> web.Response:
        """The partner's 429 with its headers."""

    # --- shared machinery ----------------------------------------------------------------------

    def next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    # --- what survives a restart -----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """What the partner keeps across a restart, JSON-ready. A partner with more state extends
        it (calling super()); tokens are left out where the partner simply issues new ones."""
        return {"listings": dict(self.listings), "last_id": self._last_id,
                "orders": [asdict(order) for order in self.orders.values()]}

    def restore(self, saved: dict[str, Any]) -> None:
        """Take back a snapshot. SKUs the plan names that the snapshot lacks (added to the catalog
        since) keep their initial quantity."""
        self.listings.update({sku: int(n) for sku, n in saved.get("listings", {}).items()})
        self._last_id = max(self._last_id, int(saved.get("last_id", 0)))
        self.orders = {o["order_id"]: SimOrder(**o) for o in saved.get("orders", [])}

    def save_state(self) -> bool:
        """Save now when anything changed since the last save; True when it wrote."""
        return self._state is not None and self._state.save(self.snapshot())

    async def _save_forever(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY)
            try:
                self.save_state()
            except (OSError, TypeError, ValueError):  # a full disk must not stop the partner
                logging.getLogger(__name__).exception("%s: state not saved", self.config.partner_id)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def over_limit(self, operation: str, quota: Quota, cost: float = 1.0) -> web.Response | None:
        """Spend from the operation's allowance; when it is short count a violation and answer 429."""
        allowance = self._allowances.get(operation)
        if allowance is None:
            allowance = self._allowances[operation] = Allowance(quota, self.clock)
        wait = allowance.spend(cost)
        self.stats[f"calls:{operation}"] += 1
        if wait <= 0:
            return None
        self.stats["rate_limited"] += 1
        self.stats[f"rate_limited:{operation}"] += 1
        return self.throttled_response(max(wait, 0.001))

    def bucket_level(self, operation: str) -> float | None:
        allowance = self._allowances.get(operation)
        return None if allowance is None else allowance.left

    def sell(self, sku: str, quantity: int) -> None:
        """A sale lowers the shown quantity, as the partner would, until we push again."""
        self.listings[sku] = max(0, self.listings.get(sku, 0) - quantity)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._faults_middleware], client_max_size=8 * 1024 * 1024)
        app.add_routes(ControlSurface(self).routes())
        app.add_routes(self.routes())
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        saved = None if self._state is None else self._state.load()
        if saved is not None:
            self.restore(saved)
        self._courier.client = ClientSession(timeout=ClientTimeout(total=10))
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = bound_port(site)
        if self.config.shopper_interval:
            self.spawn(self._shop_forever(self.config.shopper_interval))
        if self._state is not None:
            self.spawn(self._save_forever())

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:  # bounded: a task that ignores its cancel is named, not waited for for ever
            done, pending = await asyncio.wait(tasks, timeout=STOP_WAIT)
            for task in done:
                if not task.cancelled():
                    task.exception()
            if pending:
                log.error("%s simulator: %d task(s) did not end when cancelled: %s", self.kind, len(pending),
                          ", ".join(sorted(getattr(t.get_coro(), "__qualname__", "?") for t in pending)))
        with contextlib.suppress(OSError, TypeError, ValueError):
            self.save_state()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._courier.client is not None:
            await self._courier.client.close()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def deliver(self, body: bytes, headers_for: HeadersFor, url: str | None = None) -> None:
        """Send a webhook in the background the way the partner does: retried on failure along
        `retry_delays`, and now and then delivered twice. `headers_for(attempt_time)` signs it."""
        target = url or self.config.webhook_url
        if target:
            self._courier.send(target, body, headers_for)

    async def _shop_forever(self, interval: float) -> None:
        while True:
            await self.clock.sleep(random.expovariate(1 / interval))
            in_stock = [sku for sku, shown in self.listings.items() if shown > 0]
            if in_stock:
                with contextlib.suppress(Exception):
                    sku = random.choice(in_stock)
                    await self.record_order(sku, random.randint(1, min(2, self.listings[sku])))
                    self.stats["shopper_orders"] += 1

    @web.middleware
    async def _faults_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(PREFIX):
            return await handler(request)
        self.stats["requests"] += 1
        faults = self.faults
        if faults.down:
            self.stats["refused_down"] += 1
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPServiceUnavailable()
        if faults.latency_ms:
            # Real time on purpose: the latency is felt by a real socket and the client's timeouts.
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.error_rate and random.random() < faults.error_rate:
            self.stats["errors_injected"] += 1
            return self.error_response(500, "Internal error (injected by the simulator)")
        return await handler(request)


def bound_port(site: web.TCPSite) -> int:
    """The port the OS chose for a site started on port 0."""
    server: Any = site._server
    return int(server.sockets[0].getsockname()[1])
