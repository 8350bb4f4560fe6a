"""What every simulator shares: the shown quantities, the `/_sim/*` control surface, fault
injection, server-side rate buckets that count violations, webhook delivery with the partner's
retries and occasional duplicates, and a shopper that buys now and then."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from aiohttp import ClientSession, ClientTimeout, web

from sync.limits import RateSpec, TokenBucket

log = logging.getLogger(__name__)
SIM_PREFIX = "/_sim/"


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


@dataclass
class Faults:
    error_rate: float = 0.0
    latency_ms: int = 0
    down: bool = False


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
        self.listings: dict[str, int] = {sku: config.initial_quantity for sku in config.skus}
        self.orders: dict[str, SimOrder] = {}
        self.faults = Faults()
        self.stats: Counter[str] = Counter()
        self._buckets: dict[str, TokenBucket] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
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
        return next(self._ids)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def over_limit(self, operation: str, spec: RateSpec, cost: float = 1.0) -> web.Response | None:
        """Take from the server-side bucket; on overflow count a violation and answer 429."""
        bucket = self._buckets.get(operation)
        if bucket is None:
            bucket = self._buckets[operation] = TokenBucket(spec)
        wait = bucket.try_take(cost)
        self.stats[f"calls:{operation}"] += 1
        if wait <= 0:
            return None
        self.stats["rate_limited"] += 1
        self.stats[f"rate_limited:{operation}"] += 1
        return self.throttled_response(max(wait, 0.001))

    def bucket_level(self, operation: str) -> float | None:
        bucket = self._buckets.get(operation)
        if bucket is None:
            return None
        return bucket.tokens

    def sell(self, sku: str, quantity: int) -> None:
        """A sale lowers the shown quantity, as the partner would, until we push again."""
        self.listings[sku] = max(0, self.listings.get(sku, 0) - quantity)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._faults_middleware], client_max_size=8 * 1024 * 1024)
        app.add_routes([
            web.post("/_sim/orders", self._sim_order),
            web.post("/_sim/orders/{order_id}/{action:ship|cancel}", self._sim_change_order),
            web.get("/_sim/listings", self._sim_listings),
            web.put("/_sim/listings", self._sim_edit_listings),
            web.post("/_sim/faults", self._sim_faults),
            web.get("/_sim/stats", self._sim_stats),
        ])
        app.add_routes(self.routes())
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._client = ClientSession(timeout=ClientTimeout(total=10))
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = bound_port(site)
        if self.config.shopper_interval:
            self.spawn(self._shop_forever(self.config.shopper_interval))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def deliver(self, body: bytes, headers_for: Any, url: str | None = None) -> None:
        """Send a webhook in the background the way the partner does: retried on failure along
        `retry_delays`, and now and then delivered twice. `headers_for(attempt_time)` signs it."""
        target = url or self.config.webhook_url
        if not target:
            return
        self.spawn(self._deliver(target, body, headers_for))
        if random.random() < self.config.duplicate_rate:
            self.stats["webhooks_duplicated"] += 1
            self.spawn(self._deliver(target, body, headers_for))

    async def _deliver(self, url: str, body: bytes, headers_for: Any) -> None:
        assert self._client is not None
        for delay in (0.0, *self.config.retry_delays):
            if delay:
                await asyncio.sleep(delay)
            self.stats["webhooks_sent"] += 1
            try:
                async with self._client.post(url, data=body, headers=headers_for(time.time())) as answer:
                    if 200 <= answer.status < 300:
                        self.stats["webhooks_acknowledged"] += 1
                        return
                    self.stats[f"webhooks_refused:{answer.status}"] += 1
            except Exception as exc:  # the receiver is down: the partner retries later
                self.stats["webhooks_failed"] += 1
                log.debug("%s webhook to %s failed: %s", self.kind, url, exc)
        self.stats["webhooks_given_up"] += 1

    async def _shop_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(random.expovariate(1 / interval))
            in_stock = [sku for sku, shown in self.listings.items() if shown > 0]
            if in_stock:
                with contextlib.suppress(Exception):
                    sku = random.choice(in_stock)
                    await self.record_order(sku, random.randint(1, min(2, self.listings[sku])))
                    self.stats["shopper_orders"] += 1

    @web.middleware
    async def _faults_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(SIM_PREFIX):
            return await handler(request)
        self.stats["requests"] += 1
        faults = self.faults
        if faults.down:
            self.stats["refused_down"] += 1
            if request.transport is not None:
                request.transport.close()
            raise web.HTTPServiceUnavailable()
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if faults.error_rate and random.random() < faults.error_rate:
            self.stats["errors_injected"] += 1
            return self.error_response(500, "Internal error (injected by the simulator)")
        return await handler(request)

    # --- the control surface -------------------------------------------------------------------

    async def _sim_order(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            sku, quantity = str(data["sku"]), int(data.get("quantity", 1))
        except Exception:
            return _sim_error(400, "body must be JSON like {\"sku\": \"...\", \"quantity\": 1}")
        if sku not in self.listings:
            return _sim_error(404, f"sku: {sku!r} is not listed on this simulator")
        if quantity < 1:
            return _sim_error(422, "quantity: must be at least 1")
        order = await self.record_order(sku, quantity)
        return web.json_response({"order_id": order.order_id})

    async def _sim_change_order(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["order_id"])
        if order is None:
            return _sim_error(404, f"order_id: no order {request.match_info['order_id']!r}")
        status = "shipped" if request.match_info["action"] == "ship" else "cancelled"
        try:
            await self.change_order(order, status)
        except NotImplementedError:
            return _sim_error(501, f"this partner cannot mark orders {status}")
        return web.json_response({"order_id": order.order_id, "status": order.status})

    async def _sim_listings(self, _request: web.Request) -> web.Response:
        return web.json_response(self.listings)

    async def _sim_edit_listings(self, request: web.Request) -> web.Response:
        """A hand edit at the partner (what reconciliation must find)."""
        try:
            data = {str(k): int(v) for k, v in (await request.json()).items()}
        except Exception:
            return _sim_error(400, "body must be a JSON object {\"SKU\": quantity}")
        unknown = [sku for sku in data if sku not in self.listings]
        if unknown:
            return _sim_error(404, f"not listed here: {', '.join(unknown)}")
        self.listings.update(data)
        return web.json_response(self.listings)

    async def _sim_faults(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            self.faults = Faults(
                error_rate=float(data.get("error_rate", 0.0)),
                latency_ms=int(data.get("latency_ms", 0)),
                down=bool(data.get("down", False)),
            )
        except Exception:
            return _sim_error(400, "body must be {\"error_rate\": 0..1, \"latency_ms\": int, \"down\": bool}")
        return web.json_response(self.faults.__dict__)

    async def _sim_stats(self, _request: web.Request) -> web.Response:
        return web.json_response(dict(self.stats))


def bound_port(site: web.TCPSite) -> int:
    """The port the OS chose for a site started on port 0."""
    server: Any = site._server
    return int(server.sockets[0].getsockname()[1])


def _sim_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
