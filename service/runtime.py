"""The running service: store, Ray, shard actors, the router and the desk, started and stopped in
order. The web app and the ingress hold one Runtime and ask it for what they need."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from actors.collector import settle_after_start
from actors.hub import HUB_NAME, hub_actor_class
from actors.logs import reason
from actors.router import Send, ShardRouter, actors_send
from actors.shard import shard_actor_class
from inventory.desk import Channel, StockDesk
from service.config import Settings
from service.events import EventFeed
from service.hold_keeper import HoldKeeper
from service.metrics import Source, actor_source, order_placed
from service.notify import Notifier
from service.partners import PartnerFleet
from service.processes import end_now, end_processes, owned_processes, ray_node_processes, shutdown_ray
from service.ray_security import RayAuthError, check_token_available
from service.ray_start import init_ray, placement, shard_count, spread_nodes
from service.readiness import ReadinessLog
from service.reconcile_jobs import ReconcileJob, ReconcileJobs
from service.retention import RetentionTask
from service.secret_keys import secret_box
from service.watch import AlertWatcher
from store.audit import record
from store.catalog import Catalog
from store.engine import is_sqlite, make_engine, postgres_tls, reader
from store.kits import record_plan
from store.migrate import upgrade
from store.private_files import private_dir, private_file
from store.queries import half_rejected_orders
from store.secrets import SecretBox, SecretKeyError, reseal
from store.shard_epochs import fence_all

log = logging.getLogger(__name__)
RAY_SHUTDOWN_WAIT = 3.0  # seconds; with its processes already gone Ray would wait much longer
SHARD_STOP_WAIT = 3.0
READY_TIMEOUT = 1.0  # seconds each readiness check (GET /readyz) may take


class StartupError(Exception):
    pass


class Runtime:
    def __init__(self, settings: Settings, on_ray_started: Callable[[], None] | None = None):
        self.settings = settings
        self._on_ray_started = on_ray_started
        self.ready = False
        self.started_at = time.monotonic()
        self.ready_after: float | None = None
        self.api_token = ""
        self.token_file: Path | None = None
        self._engine: AsyncEngine | None = None
        self._catalog: Catalog | None = None
        self._desk: StockDesk | None = None
        self._shards: list[Any] = []
        self._shard_pids: list[int] = []
        self._shard_names: list[str] = []
        self._hub: Any = None
        self._events: EventFeed | None = None
        self.partners = PartnerFleet(self)
        self.hold_keeper = HoldKeeper(self)
        self.reconcile_jobs = ReconcileJobs(self.partners.reconcile, self._reconciled)
        self._watcher: AlertWatcher | None = None
        self._notifier: Notifier | None = None
        self._outbox: Any = None  # the demo's mail server and SMS simulator
        self._retention: RetentionTask | None = None
        self._partners_started: asyncio.Task[None] | None = None
        self._ray_started = False
        self._secrets: SecretBox | None = None
        self._owner = f"{os.getpid()}-{time.time_ns()}"
        self._readiness_log = ReadinessLog(self._starting)  # GET /readyz's checks and their log

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StartupError("the store is not open yet")
        return self._engine

    @property
    def read_engine(self) -> AsyncEngine:
        return reader(self.engine)

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            raise StartupError("the catalog is not loaded yet")
        return self._catalog

    @property
    def events(self) -> EventFeed:
        if self._events is None:
            raise StartupError("the event feed is not running yet")
        return self._events

    @property
    def notifier(self) -> Notifier:
        if self._notifier is None:
            raise StartupError("the notifier is not running yet")
        return self._notifier

    def alerts_link(self) -> str:
        """The dashboard's /alerts page, as messages link to it."""
        s = self.settings
        wildcard = s.web_host in ("0.0.0.0", "::", "")  # nosec B104 - compared, not bound: a link needs one host
        host = "127.0.0.1" if wildcard else s.web_host
        return f"{'https' if s.tls_cert else 'http'}://{host}:{s.web_port}/alerts"

    @property
    def desk(self) -> StockDesk:
        if self._desk is None:
            raise StartupError("the stock shards are not running yet")
        return self._desk

    def check_settings(self) -> None:
        if self.settings.ray_address != "local" and is_sqlite(self.settings.database_url):
            raise StartupError(
                "ray.address joins a cluster whose actors may run on other machines; they cannot share "
                "a SQLite file. Set THREADCOUNT_DATABASE_URL to a PostgreSQL URL "
                "(postgresql+asyncpg://...) or use THREADCOUNT_RAY_ADDRESS=local."
            )
        if not is_sqlite(self.settings.database_url):
            try:
                postgres_tls(self.settings.database_url)
            except (ValueError, OSError) as exc:
                raise StartupError(f"THREADCOUNT_DATABASE_URL: {exc}") from None
        try:
            check_token_available(self.settings.data_dir, local=self.settings.ray_address == "local")
        except RayAuthError as exc:
            raise StartupError(str(exc)) from None

    @property
    def secrets(self) -> SecretBox:
        if self._secrets is None:
            raise StartupError("the secret key is not loaded yet")
        return self._secrets

    def prepare_secrets(self) -> None:
        """The data folder (0700), the key that seals partner secrets, and the API token."""
        private_dir(self.settings.data_dir)
        try:
            self._secrets = secret_box(self.settings)
        except SecretKeyError as exc:
            raise StartupError(str(exc)) from None
        if self.settings.admin_token:
            self.api_token = self.settings.admin_token
            return
        self.token_file = self.settings.data_dir / "admin_token"
        self.api_token = private_file(self.token_file, secrets.token_urlsafe(32))

    async def open_store(self) -> None:
        await upgrade(self.settings.database_url)
        self._engine = make_engine(self.settings.database_url, self.settings.sqlite_synchronous)
        try:
            moved = await reseal(self._engine, self.secrets)
        except SecretKeyError as exc:
            raise StartupError(str(exc)) from None
        if moved:
            log.warning("partner secrets: %d partners' stored credentials (re-)encrypted with the newest key",
                        moved)
        self._catalog = Catalog(self._engine)
        await self._catalog.refresh()

    async def start_shards(self) -> None:
        import ray

        if not ray.is_initialized():
            await asyncio.to_thread(self._init_ray)
            if self._on_ray_started is not None:
                self._on_ray_started()
        # the hub first: shards publish to it from their first commit
        self._hub = hub_actor_class().options(name=HUB_NAME, get_if_exists=True).remote()
        actor = shard_actor_class()
        count = await asyncio.to_thread(shard_count, self.settings)
        nodes = await asyncio.to_thread(spread_nodes, self.settings)
        await fence_all(self.engine)  # no shard of an earlier run commits once ours start
        self._shard_names = [f"threadcount-shard-{i}-of-{count}-{os.getpid()}" for i in range(count)]
        self._shards = [
            actor.options(name=name, **placement(self.settings, i, nodes)).remote(
                i, count, self.settings.database_url, self.settings.sqlite_synchronous)
            for i, name in enumerate(self._shard_names)
        ]
        await asyncio.gather(self._hub.head.remote(), *(shard.ready.remote() for shard in self._shards))
        if self.settings.ray_address == "local":
            self._shard_pids = list(await asyncio.gather(self._hub.pid.remote(),
                                                         *(shard.pid.remote() for shard in self._shards)))
        self._desk = self.desk_over(actors_send(self._shards), len(self._shards))

    def desk_over(self, send: Send, shard_count: int, max_inflight: int | None = None) -> StockDesk:
        """The desk this process places orders and stock commands through, its router calling `send`
        (the shard actors in the primary; the primary's router in a web worker), with at most
        `max_inflight` calls a shard at a time (batching.max_inflight when None)."""
        inflight = self.settings.max_inflight if max_inflight is None else max_inflight
        router = ShardRouter(send, shard_count, max_batch=self.settings.max_batch,
                             max_inflight=inflight, linger=self.settings.linger_ms / 1000,
                             call_timeout=self.settings.call_timeout)
        return StockDesk(router, on_placed=order_placed,
                         kit_plans=functools.partial(record_plan, self.engine),
                         deadline=self.settings.call_timeout)

    def _init_ray(self) -> None:
        init_ray(self.settings, self._owner)
        self._ray_started = True

    async def start(self) -> None:
        self.check_settings()
        self.prepare_secrets()
        await self.open_store()
        await self.start_shards()
        self._events = EventFeed(self.catalog, self._hub)
        self._events.start()
        self._watcher = AlertWatcher(self)
        self._watcher.start()
        notify = self.settings.notifications
        if self.settings.demo:
            from service.demo_notify import DemoOutbox

            self._outbox = DemoOutbox(self.settings.data_dir)
            notify = await self._outbox.start(notify)
        self._notifier = Notifier(self.engine, notify, self.alerts_link())
        await self._notifier.load_rules()
        self._notifier.start(self._events.subscribe)
        self._retention = RetentionTask(self.engine, self.settings.retention)
        self._retention.start()
        await self.heal_split_orders()
        await self.hold_keeper.start()  # after the heal: a hold's part is an order part
        if self.settings.demo:
            from service.demo import seed_demo

            await seed_demo(self)
        self.ready = True
        self.ready_after = time.monotonic() - self.started_at
        # orders can be taken now; partners connect in the background (a slow partner never
        # delays the service)
        self._partners_started = asyncio.ensure_future(self._start_partners())

    def settle(self) -> None:
        """Once this web process has started (the primary or a worker): actors/collector.py."""
        settle_after_start()

    async def _start_partners(self) -> None:
        try:
            await self.partners.start()
        except Exception:
            log.exception("the partners did not start")

    async def heal_split_orders(self) -> None:
        """After a crash: an order rejected on one shard but holding stock on another is aborted there."""
        for order_id, variant_ids in await half_rejected_orders(self.read_engine):
            await self.desk.abort(order_id, variant_ids)

    async def readiness(self, timeout: float = READY_TIMEOUT) -> dict[str, str]:
        """Each part asked at once, each given `timeout` seconds: "ok" or "failed" by check name
        (shards, hub, database, partner:<id> for every partner the service runs)."""
        async def database() -> None:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

        async def shards() -> None:
            if not self._shards:
                raise StartupError("no shards yet")
            await asyncio.gather(*(shard.pid.remote() for shard in self._shards))

        async def answers(actor: Any) -> None:
            if actor is None:
                raise StartupError("not started yet")
            await actor.pid.remote()

        probes: dict[str, Callable[[], Awaitable[None]]] = {
            "shards": shards, "hub": lambda: answers(self._hub), "database": database}
        for partner_id in self.partners.expected():
            probes[f"partner:{partner_id}"] = functools.partial(answers, self.partners.actors.get(partner_id))

        states = await asyncio.gather(*(self._readiness_log.check(name, probe, timeout)
                                        for name, probe in probes.items()))
        return dict(zip(probes, states, strict=True))

    def _starting(self) -> bool:
        """Still starting: the service, or its partners (which connect in the background)."""
        return not self.ready or self._partners_started is None or not self._partners_started.done()

    async def partner_status(self) -> list[dict[str, Any]]:
        return await self.partners.status()

    # the dashboard's partner page asks for these by name (getattr(rt, f"{action}_partner"))
    async def retry_partner(self, partner_id: str) -> None:
        await self.partners.retry(partner_id)

    async def reconcile_partner(self, partner_id: str) -> dict[str, int]:
        return await self.partners.reconcile(partner_id)

    async def _reconciled(self, job: ReconcileJob) -> None:
        detail: dict[str, Any] = dict(job.result or {}) if job.status == "done" else {"error": job.error}
        await record(self.engine, job.actor, "partner.reconcile", job.partner_id, job=job.id, **detail)

    async def retry_dead_letter(self, partner_id: str, letter_id: int) -> dict[str, Any]:
        """Apply a partner order kept as a dead letter again (after its cause was fixed)."""
        return await self.partners.retry_dead_letter(partner_id, letter_id)

    @property
    def shard_names(self) -> list[str]:
        return list(self._shard_names)

    def metric_sources(self) -> list[Source]:
        """Every actor a /metrics scrape asks: the hub, each shard, each partner connector."""
        sources = [actor_source({"actor": "hub"}, self._hub)] if self._hub is not None else []
        sources += [actor_source({"actor": f"shard-{i}", "shard": str(i)}, shard)
                    for i, shard in enumerate(self._shards)]
        sources += [actor_source({"actor": f"partner-{partner_id}"}, actor)
                    for partner_id, actor in self.partners.actors.items()]
        return sources

    def default_channel(self, name: str) -> Channel:
        """A partner with no channel rule: reject, every location by priority."""
        return Channel(name, "reject", tuple(loc.id for loc in self.catalog.locations()))

    def channel(self, name: str) -> Channel | None:
        rule = self.settings.channels.get(name)
        if rule is None:
            return None
        known = self.catalog.locations()
        if rule.locations is None:
            ids = tuple(loc.id for loc in known)
        else:
            by_code = {loc.code: loc.id for loc in known}
            ids = tuple(by_code[code] for code in rule.locations if code in by_code)
        return Channel(name, rule.policy, ids)

    def _ray_alive(self) -> bool:
        """Whether the local Ray this process started still has all its own processes."""
        found = ray_node_processes() if self._ray_started else None
        return found is None or all(process.poll() is None for process in found)

    async def stop(self) -> None:
        """Called once the web server has finished the requests in flight, so every acknowledged
        change is committed; the shards are asked to drain and close their store first."""
        self.ready = False
        # A signal to the whole process group ends Ray's own processes at once: then nothing can
        # answer, so nobody is waited for, and the workers are ended by pid below.
        ray_alive = self._ray_alive()
        wait = 1.0 if ray_alive else 0.0
        await self.reconcile_jobs.stop()
        await self.hold_keeper.stop()
        if self._partners_started is not None:
            self._partners_started.cancel()
            await asyncio.gather(self._partners_started, return_exceptions=True)
        await self.partners.stop(wait=2 * wait)
        self._shard_pids.extend(self.partners.pids)
        if self._watcher is not None:
            await self._watcher.stop()
        if self._notifier is not None:
            await self._notifier.stop()
        if self._outbox is not None:
            await self._outbox.stop()
        if self._retention is not None:
            await self._retention.stop()
        if self._events is not None:
            await self._events.stop()
        if self._desk is not None:
            await self._desk.router.close()
        if self._shards and not ray_alive:  # nothing could answer: their processes are ended below
            log.info("Ray's processes were ended with ours (a signal to the process group): "
                     "the stock shards are ended by pid")
        elif self._shards:
            try:
                await asyncio.wait_for(asyncio.gather(*(s.stop.remote() for s in self._shards)),
                                       SHARD_STOP_WAIT)
            except Exception as exc:
                log.warning("the stock shards did not stop cleanly: %s", reason(exc))
        leftovers = set(self._shard_pids)
        if self._ray_started and self._ray_alive():  # again: a signal to the group ends them meanwhile
            await shutdown_ray(RAY_SHUTDOWN_WAIT)
        elif self._ray_started:  # Ray's own, its GCS and raylet, hold nothing of ours: not waited for
            end_now(ray_node_processes() or [])
        if self._ray_started and self.settings.ray_address == "local":
            leftovers.update(await asyncio.to_thread(owned_processes, self._owner))
        await asyncio.to_thread(end_processes, sorted(leftovers))
        if self._engine is not None:
            await self._engine.dispose()
