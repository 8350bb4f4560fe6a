"""One partner's sync, as its PartnerConnector actor runs it (plain class, no Ray):

- desired quantities follow stock events (and a periodic level pass over the store), coalesced in
  the Outbox and saved to the listings table before they are pushed;
- the push loop tells the partner, zeros first, in the connector's batch size, through its rate
  limiter; a failing partner trips the circuit breaker and waits with jittered backoff, never
  holding up anyone else;
- the poll loop fetches orders from the stored cursor; webhooks arrive through `take_webhook`; both
  feed the same intake, and the cursor or event id is stored only after the orders committed;
- reconciliation reads what the partner shows and pushes again where it drifted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from connectors.base import (
    AuthExpired,
    Connector,
    OrderEvent,
    PartnerError,
    RateLimited,
)
from inventory.commands import VariantStock
from inventory.desk import Channel
from store import listings as store
from store.catalog import Catalog
from sync import order_taker, pusher
from sync.config import PartnerConfig
from sync.intake import OrderIntake
from sync.limits import RateLimiter
from sync.outbox import Entry, Outbox
from sync.resilience import Backoff, CircuitBreaker
from sync.rules import ShowRule, available_in

log = logging.getLogger(__name__)
T = TypeVar("T")
SAVE_EVERY = 0.1          # seconds between saves of changed desired quantities
RECENT = 15 * 60          # seconds of errors the status counts
Publish = Callable[[str, dict[str, Any]], Awaitable[None]]
Alert = Callable[[str, str, str], Awaitable[None]]


class PartnerDown(Exception):
    """The circuit is open: the partner is not being called right now."""


class PartnerSync:
    def __init__(self, config: PartnerConfig, connector: Connector, limiter: RateLimiter, channel: Channel,
                 show: ShowRule, engine: Any, catalog: Catalog, intake: OrderIntake, publish: Publish,
                 alert: Alert):
        self.config, self.connector, self.limiter = config, connector, limiter
        self.channel, self.show = channel, show
        self.engine, self.catalog, self.intake = engine, catalog, intake
        self.publish, self.alert = publish, alert
        self.outbox = Outbox()
        self.breaker = CircuitBreaker()
        self._backoff = Backoff()
        self.wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.cursor: str | None = None
        self.connected = False
        self.counters: dict[str, int] = dict.fromkeys(
            ("pushes", "listings_pushed", "push_failures", "polls", "orders_taken", "webhooks",
             "webhooks_duplicate", "reconciled", "drift_corrected", "rate_limited"), 0)
        self.errors: deque[float] = deque(maxlen=1000)
        self.lags: deque[float] = deque(maxlen=5000)  # desired → pushed, seconds
        self.last_sync_at: float | None = None
        self.last_error = ""
        self._saved_credentials: dict[str, str] = {}
        self._saving = asyncio.Lock()

    # --- life --------------------------------------------------------------------------------------

    async def start(self) -> None:
        for row in await store.load_listings(self.engine, self.config.id):
            self.outbox.load(row.sku, row.desired, row.desired_at, row.pushed, row.pushed_at)
        self.cursor, saved = await store.load_state(self.engine, self.config.id)
        self.connector.spec.credentials.update(saved)
        self._saved_credentials = dict(self.connector.spec.credentials)
        await self.level_pass()
        for loop in (self._connect_then_poll, self._push_forever, self._save_forever, self._level_forever,
                     self._reconcile_forever):
            self._tasks.append(asyncio.ensure_future(loop()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.save_desired()
            await self.connector.close()

    # --- desired quantities ------------------------------------------------------------------------

    def desired(self, levels: Mapping[int, tuple[int, int]]) -> int:
        return self.show.shown(available_in(levels, self.channel.locations))

    def on_stock(self, stocks: list[VariantStock]) -> None:
        changed = False
        for stock in stocks:
            sku = self.catalog.skus.get(stock.variant_id)
            if sku is not None:
                changed |= self.outbox.want(sku, self.desired(stock.levels))
        if changed:
            self.wake.set()

    async def level_pass(self) -> None:
        """Derive every listing's desired quantity from the store: heals any lost event."""
        await self.catalog.refresh()
        for variant_id, levels in (await store.all_levels(self.engine)).items():
            sku = self.catalog.skus.get(variant_id)
            if sku is not None:
                self.outbox.want(sku, self.desired(levels))
        await self.save_desired()
        self.wake.set()

    async def save_desired(self) -> None:
        """One save at a time: two overlapping ones could commit out of order and leave an older
        desired quantity in the store, which the outbox would then believe saved."""
        async with self._saving:
            await self._save_desired_now()

    async def _save_desired_now(self) -> None:
        if not self.outbox.unsaved:
            return
        skus, self.outbox.unsaved = self.outbox.unsaved, set()
        entries = [self.outbox.entries[sku] for sku in skus]
        rows = [(self.catalog_id(e.sku), e.desired, e.desired_at) for e in entries]
        try:
            await store.save_desired(self.engine, self.config.id, rows)
        except Exception:
            self.outbox.unsaved |= skus
            raise

    # --- calling the partner -------------------------------------------------------------------------

    async def call(self, what: str, make: Callable[[], Awaitable[T]]) -> T:
        """One partner call through the breaker; 429s wait as told, other failures count against
        the breaker and are raised for the loop to back off."""
        while True:
            if not self.breaker.try_acquire():
                raise PartnerDown(f"{self.config.id}: circuit {self.breaker.state}; "
                                  f"next try in {self.breaker.wait():.1f} s")
            try:
                result = await make()
            except RateLimited as exc:
                self.breaker.release()
                await self._save_credentials_if_changed()
                self.counters["rate_limited"] += 1
                await asyncio.sleep(max(exc.retry_after, 0.05))
                continue
            except (PartnerError, AuthExpired) as exc:
                await self._save_credentials_if_changed()
                await self._failed(what, exc)
                raise
            except BaseException:
                self.breaker.release()
                raise
            await self._save_credentials_if_changed()
            self.breaker.success()
            self._backoff.reset()
            return result

    async def _failed(self, what: str, exc: Exception) -> None:
        was_open = self.breaker.state != "closed"
        self.breaker.failure()
        self.errors.append(time.time())
        self.last_error = f"{what}: {exc}"
        if not was_open and self.breaker.state == "open":
            await self.alert("sync_failure", self.config.id,
                              f"{self.config.name} is failing ({exc}); calls paused, retrying with backoff")

    async def _pause(self) -> None:
        await asyncio.sleep(max(self.breaker.wait(), self._backoff.next_delay()))

    # --- loops -------------------------------------------------------------------------------------

    async def _connect_then_poll(self) -> None:
        while not self.connected:
            try:
                await self.call("connect", self.connector.start)
                self.connected = True
                await store.set_status(self.engine, self.config.id, "connected")
                await self.save_state()
            except Exception as exc:
                log.warning("%s: cannot connect yet: %s", self.config.id, exc)
                await self._pause()
        self.wake.set()
        if "poll" in self.connector.capabilities:
            await self._poll_forever()

    async def _poll_forever(self) -> None:
        while True:
            jitter = random.uniform(-self.config.poll_jitter, self.config.poll_jitter)
            await asyncio.sleep(max(0.05, self.config.poll_interval + jitter))
            try:
                await self.poll_once()
            except Exception as exc:
                log.warning("%s: poll failed: %s", self.config.id, exc)
                await store.log_sync(self.engine, self.config.id, "poll", False, str(exc))
                await self._pause()

    async def poll_once(self) -> int:
        return await order_taker.poll_once(self)

    async def take_events(self, events: list[OrderEvent], also_seen: tuple[str, ...] = ()) -> int:
        return await order_taker.take_events(self, events, also_seen)

    async def take_webhook(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        return await order_taker.take_webhook(self, headers, body)

    async def save_state(self) -> None:
        self._saved_credentials = dict(self.connector.spec.credentials)
        await store.save_state(self.engine, self.config.id, self.cursor, self._saved_credentials)

    async def _save_credentials_if_changed(self) -> None:
        """At once: a rotated refresh token (Etsy) is the only one that works from now on."""
        if self.connector.spec.credentials != self._saved_credentials:
            await self.save_state()

    async def _push_forever(self) -> None:
        await pusher.push_forever(self)

    async def push(self, batch: list[Entry]) -> None:
        await pusher.push(self, batch)

    async def pause(self) -> None:
        await self._pause()

    def catalog_id(self, sku: str) -> int:
        """Listings only ever name SKUs the catalog has loaded."""
        return self.catalog.variant_ids[sku]

    def synced(self) -> None:
        self.last_sync_at = time.time()

    async def _save_forever(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY)
            with contextlib.suppress(Exception):
                await self.save_desired()

    async def _level_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.level_interval)
            with contextlib.suppress(Exception):
                await self.level_pass()

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile_interval)
            if self.connected:
                with contextlib.suppress(Exception):
                    await self.reconcile()

    async def reconcile(self) -> dict[str, int]:
        """Read what the partner shows; where it differs from what we told it, push again."""
        from sync.reconciler import reconcile

        return await reconcile(self)

    def retry(self) -> None:
        self.breaker.success()
        self._backoff.reset()
        for entry in self.outbox.entries.values():
            entry.not_before = 0.0
        self.wake.set()

    def status(self) -> dict[str, Any]:
        from sync.reconciler import status

        return status(self)
