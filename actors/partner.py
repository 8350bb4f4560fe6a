"""PartnerConnector: one actor per configured partner (num_cpus=0) around that partner's sync
(sync.partner_sync.PartnerSync, put together by sync.assembly), which owns the client, rate limiter,
breaker, schedule, cursor and desired/pushed table. The actor adds what needs Ray: the shards found by
name, the EventHub's committed stock changes fed to the sync, and its status published on the hub.

Guarantees:
- Start: the sync starts on the first call, once, under a lock; every call waits for it.
- Ordering: calls interleave (async actor); the sync serialises what must not (saves of desired
  quantities, the breaker's one trial call). Stock events are applied in the hub's order.
- Webhooks: `take_webhook` answers only after the orders a delivery carries have committed, and a
  delivery seen before is answered as a duplicate.
- Restarts: max_restarts=-1, max_task_retries=-1. A restarted actor starts on its first call (the
  runtime's supervisor calls `status` every few seconds) from what the store holds, with empty rate
  buckets (its last life may have just spent the partner's): listings whose pushed quantity differs
  from the desired one are pushed again (pushes set absolute quantities, so a repeat changes
  nothing), and polling resumes from the stored cursor (orders are idempotent on their id).
- Traced (actors/tracing.py): a webhook delivery is a `partner.webhook` span, the child of the
  ingress's request span; a push is a `partner.push` span, the child of the first shard batch whose
  stock change it tells and linked to the others (up to 8 per listing)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from actors import tracing
from actors.listener import HubListener, find_hub, publish
from actors.logs import configure_actor
from actors.metrics import PartnerMetrics, counting
from actors.router import CALL_TIMEOUT, ShardRouter
from connectors.base import PartnerSpec
from inventory.desk import Channel, StockDesk
from inventory.event_log import Event
from inventory.events import CatalogChanged, DomainEvent, PartnerStatusChanged, StockChanged
from store.engine import ACTOR_IDLE_IN_TRANSACTION_S, make_engine
from store.kits import record_plan
from store.secrets import SecretBox
from sync.assembly import PartnerPlan, assemble
from sync.config import PartnerConfig
from sync.outbox import Entry
from sync.partner_sync import PartnerSync
from sync.rules import ShowRule

STATUS_EVERY = 1.0  # seconds between "partner" events on the hub


class PartnerConnector:
    def __init__(self, config: PartnerConfig, spec: PartnerSpec, channel: Channel, show: ShowRule,
                 database_url: str, sqlite_synchronous: str, shard_names: list[str],
                 follow: tuple[str, ...] | bool | None = False, *, secret_keys: Sequence[str],
                 call_timeout: float | None = CALL_TIMEOUT):
        """Shards are passed by name, not handle: a restarted actor finds them again, and its
        constructor arguments stay small enough to travel inline. `follow`: the channel's location
        codes (None: all), resolved again on every CatalogChanged, so a location added after start
        serves this partner's orders and listings. `secret_keys`: the service's Fernet keys, newest
        first, which seal the credentials the store keeps (store/secrets.py). `call_timeout`: seconds
        a shard call may take before the orders it carries fail as ShardUnavailable (a webhook's
        503, a poll retried next time; actors/router.py)."""
        configure_actor(f"partner-{config.id}")
        tracing.start(f"partner-{config.id}")
        self._waiting = tracing.Waiting()  # the stock changes' batches, per variant, until pushed
        self._plan = PartnerPlan(config, spec, channel, show, follow, box=SecretBox(secret_keys))
        self._url, self._sqlite_sync, self._shard_names = database_url, sqlite_synchronous, shard_names
        self._call_timeout = call_timeout
        self._sync: PartnerSync | None = None
        self._starting: asyncio.Lock | None = None
        self._listening: asyncio.Task[None] | None = None
        self._hub: Any = None
        self._last_status_event = 0.0
        self._session: Any = None
        self.figures = PartnerMetrics(config.id)

    async def _started(self) -> PartnerSync:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._sync is None:
                with tracing.detached():  # the first call may be a traced webhook
                    self._sync = await self._start()
        return self._sync

    async def _start(self) -> PartnerSync:
        import aiohttp
        import ray

        engine = make_engine(self._url, self._sqlite_sync, pool_size=2,
                             idle_in_transaction_s=ACTOR_IDLE_IN_TRANSACTION_S)
        desk = StockDesk(ShardRouter.for_actors([ray.get_actor(name) for name in self._shard_names],
                                                call_timeout=self._call_timeout),
                         on_placed=counting(self.figures.orders),
                         kit_plans=functools.partial(record_plan, engine))
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
        sync = await assemble(self._plan, engine, desk, self._session, self._publish,
                              empty_buckets=_restarted(ray))
        sync.pusher.lag_seen = self.figures.observe_lag
        if tracing.enabled():
            sync.pusher.traced = self._push_span
        await sync.start()
        self._listening = asyncio.ensure_future(HubListener(self._on_events, sync.level_pass).run())
        return sync

    async def _on_events(self, events: list[Event]) -> None:
        if self._sync is None:
            return
        if any(isinstance(e.fact, CatalogChanged) for e in events):
            await self._sync.level_pass()   # before the stock: it may be at a new location
        changes = [e.fact for e in events if isinstance(e.fact, StockChanged)]
        if tracing.enabled():
            for change in changes:
                self._waiting.add(change.stock.variant_id, tracing.remote(change.trace))
        self._sync.on_stock([change.stock for change in changes])

    def _push_span(self, batch: list[Entry]) -> AbstractContextManager[object]:
        variants = []
        for entry in batch:
            with contextlib.suppress(KeyError, AttributeError):  # a listing the catalog lost: no trace
                variants.append(self._sync.desired.catalog_id(entry.sku))  # type: ignore[union-attr]
        return tracing.span("partner.push", self._waiting.take(variants), tracing.SpanKind.CLIENT,
                            {"threadcount.partner": self._plan.config.id, "threadcount.listings": len(batch)})

    async def _publish(self, fact: DomainEvent) -> None:
        now = time.monotonic()
        if isinstance(fact, PartnerStatusChanged):
            if now - self._last_status_event < STATUS_EVERY:
                return
            self._last_status_event = now
        self._hub = self._hub or find_hub()
        await publish(self._hub, [fact])

    # --- the actor's calls -------------------------------------------------------------------------

    async def ready(self) -> bool:
        await self._started()
        return True

    async def status(self) -> dict[str, Any]:
        return {**(await self._started()).status(), "pid": os.getpid()}

    async def take_webhook(self, headers: Mapping[str, str], body: bytes,
                           trace: tracing.Carrier | None = None) -> dict[str, Any]:
        """A delivery whose signature the ingress verified; answers after its orders committed.
        `trace`: the ingress request's span, when traced."""
        sync = await self._started()
        with tracing.span("partner.webhook", [tracing.remote(trace)], tracing.SpanKind.SERVER,
                          {"threadcount.partner": self._plan.config.id}):
            return await sync.take_webhook(headers, body)

    async def reconcile(self) -> dict[str, int]:
        return await (await self._started()).reconcile()

    async def retry(self) -> None:
        (await self._started()).retry()

    async def retry_dead_letter(self, letter_id: int) -> dict[str, Any]:
        return await (await self._started()).retry_dead_letter(letter_id)

    def metrics(self) -> list[Any]:
        """This partner's figures as prometheus_client families (merged by service/metrics.py);
        never waits for the sync to start."""
        sync = self._sync
        if sync is None:
            return self.figures.families(None, {})
        return self.figures.families(sync.calls.errors_total, sync.rate_limit_use())

    async def stop(self) -> None:
        if self._listening is not None:
            self._listening.cancel()
        if self._sync is not None:
            await self._sync.stop()
        if self._session is not None:
            await self._session.close()
        if tracing.enabled():
            await asyncio.to_thread(tracing.flush)

    def pid(self) -> int:
        return os.getpid()


def _restarted(ray: Any) -> bool:
    with warnings.catch_warnings():  # Ray's own property reads its deprecated actor_id and warns
        warnings.simplefilter("ignore", DeprecationWarning)
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)


def partner_actor_class() -> Any:
    import ray

    return ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(PartnerConnector)
