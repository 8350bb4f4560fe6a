"""One partner's sync, as its PartnerConnector actor runs it (plain classes, no Ray). PartnerSync
composes the parts and runs their loops; each part owns its own state and figures:

- DesiredQuantities: what the partner should show, following stock events and a periodic level
  pass over the store, coalesced in the Outbox and saved to the listings table before it is pushed;
- Pusher: tells the partner, zeros first, in the connector's batch size, through its rate limiter;
- PartnerCalls: a failing partner trips the circuit breaker and waits with jittered backoff, never
  holding up anyone else;
- OrderTaker: polls orders from the stored cursor and takes verified webhooks; both feed the same
  intake, and the cursor or event id is stored only after the orders committed;
- Reconciler: reads what the partner shows and pushes again where it drifted: once connected (a
  partner may have restarted empty or been edited while we were away; found within seconds, not at
  the next reconcile interval), every reconcile interval, and on demand. "in_sync" means the last
  read agreed and nothing waits to be pushed; a partner never read is "unverified"."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from connectors.base import Connector
from inventory.commands import VariantStock
from inventory.events import DomainEvent, PartnerStatusChanged
from store import listings as store
from store.secrets import SecretBox
from sync.calls import Alert, PartnerCalls
from sync.config import PartnerConfig
from sync.dead_letters import DeadLetters
from sync.desired import DesiredQuantities
from sync.intake import OrderIntake
from sync.limits import RateLimiter
from sync.order_taker import OrderTaker
from sync.pusher import Pusher
from sync.reconciler import Reconciler
from sync.state import StoredState

log = logging.getLogger(__name__)
SAVE_EVERY = 0.1  # seconds between saves of changed desired quantities
START_READS = 4   # reads after connecting: the first finds drift, the next confirm its correction
PUSHED_WAIT = 60.0  # seconds a start-up read waits for the corrections to be pushed
REBUFFER_EVERY = 1.0  # seconds between looks at auto buffers that decayed since the last sale
STOP_WAIT = 10.0  # seconds stop() gives the loops to end, and then the last save, and the close
Publish = Callable[[DomainEvent], Awaitable[None]]


class PartnerSync:
    def __init__(self, config: PartnerConfig, connector: Connector, limiter: RateLimiter,
                 desired: DesiredQuantities, intake: OrderIntake, engine: Any, publish: Publish,
                 alert: Alert, box: SecretBox):
        """`box` seals the credentials the connector rewrites before they are stored."""
        self.config, self.connector, self._limiter = config, connector, limiter
        self.desired, self._engine, self._publish = desired, engine, publish
        self.state = StoredState(engine, config.id, connector.spec.credentials, box)
        self.calls = PartnerCalls(config.id, config.name, self.state, alert)
        self.pusher = Pusher(config.id, connector, limiter, self.calls, desired, engine, self._publish_status)
        self.dead_letters = DeadLetters(config.id, intake, engine, alert)
        self.orders = OrderTaker(config, connector, self.calls, self.state, intake, engine, self._restate,
                                 self.dead_letters)
        self.reconciler = Reconciler(config, connector, self.calls, desired, engine, alert, self.pusher.wake)
        self.connected = False
        self._tasks: list[asyncio.Task[None]] = []
        self._confirming: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.desired.load()
        await self.state.load()
        await self.level_pass()
        loops = [self._connect_then_run, self._save_forever, self._level_forever, self._reconcile_forever]
        if self.desired.buffers is not None:
            loops.append(self._rebuffer_forever)
        self._tasks.extend(asyncio.ensure_future(loop()) for loop in loops)

    async def stop(self) -> None:
        """Bounded: a loop that does not end when cancelled, or a save or a close that never returns,
        is logged and left rather than holding up the actor's stop (or a test) for ever."""
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=STOP_WAIT)
            for task in done:
                if not task.cancelled():
                    task.exception()   # retrieved, as gather(return_exceptions=True) did
            if pending:
                log.error("%s: %d loop(s) did not end when cancelled: %s", self.config.id, len(pending),
                          ", ".join(sorted(getattr(t.get_coro(), "__qualname__", "?") for t in pending)))
        for last in (self.desired.save, self.connector.close):
            try:
                async with asyncio.timeout(STOP_WAIT):
                    await last()
            except Exception as exc:
                log.warning("%s: %s at stop failed: %r", self.config.id, last.__name__, exc)

    # --- what the actor passes on ------------------------------------------------------------------

    def on_stock(self, stocks: list[VariantStock]) -> None:
        if self.desired.on_stock(stocks):
            self.pusher.wake()

    def _restate(self, skus: Iterable[str]) -> None:
        """The partner sold these: what it shows moved by itself, so tell it again."""
        self.desired.outbox.restate(skus)
        self.pusher.wake()

    async def level_pass(self) -> None:
        """Also what follows a catalog change: a location added after start is one of the channel's
        at once, for what the partner is shown and for the orders it sends."""
        await self.desired.level_pass()
        self.orders.follow_channel(self.desired.channel)
        self.pusher.wake()

    async def take_webhook(self, headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
        return await self.orders.take_webhook(headers, body)

    async def reconcile(self) -> dict[str, int]:
        found = await self.reconciler.reconcile()
        if found["corrected"]:
            self._confirm_corrections()   # "in sync" again only once a read agrees
        return found

    async def retry_dead_letter(self, letter_id: int) -> dict[str, Any]:
        return await self.dead_letters.retry(letter_id)

    def retry(self) -> None:
        self.calls.reset()
        for entry in self.desired.outbox.entries.values():
            entry.not_before = 0.0
        self.pusher.wake()

    # --- loops -------------------------------------------------------------------------------------

    async def _connect_then_run(self) -> None:
        """Pushes and polls start once the partner answered: until then there is no one to tell."""
        while not self.connected:
            try:
                await self.calls.call("connect", self.connector.start)
                self.connected = True
                await store.set_status(self._engine, self.config.id, "connected")
                await self.state.save()
            except Exception as exc:
                log.warning("%s: cannot connect yet: %s", self.config.id, exc)
                await self.calls.pause()
        self._tasks.append(asyncio.ensure_future(self.pusher.run()))
        self.pusher.wake()
        self._tasks.append(asyncio.ensure_future(self._read_until_agreed()))
        if "poll" in self.connector.capabilities:
            await self.orders.poll_forever()

    async def _read_until_agreed(self, pushes_first: bool = False) -> None:
        """Read the partner (through the limiter like any call); where it drifted the corrections
        are pushed, then it is read again, until a read agrees. Run once connected (the partner may
        have restarted empty or been edited while we were away) and after any read that drifted."""
        for _ in range(START_READS):
            if pushes_first:
                deadline = time.monotonic() + PUSHED_WAIT
                while self.desired.outbox.pending() and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            pushes_first = True
            read_before = self.reconciler.last_read_at
            try:
                found = await self.reconciler.reconcile()
            except Exception as exc:
                log.warning("%s: reading the partner failed: %s", self.config.id, exc)
                await self.calls.pause()
                continue
            # a read made while every listing was being pushed checked nothing (last_read_at stays):
            # agreed only once a read has compared what was told
            checked = self.reconciler.last_read_at != read_before
            if checked and not found["corrected"] and not self.desired.outbox.pending():
                return

    def _confirm_corrections(self) -> None:
        if self._confirming is None or self._confirming.done():
            self._confirming = asyncio.ensure_future(self._read_until_agreed(pushes_first=True))
            self._tasks.append(self._confirming)

    async def _save_forever(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY)
            with contextlib.suppress(Exception):
                await self.desired.save()

    async def _level_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.level_interval)
            with contextlib.suppress(Exception):
                await self.level_pass()

    async def _rebuffer_forever(self) -> None:
        while True:
            await asyncio.sleep(REBUFFER_EVERY)
            if self.desired.rebuffer():
                self.pusher.wake()

    async def _reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.reconcile_interval)
            if self.connected:
                with contextlib.suppress(Exception):
                    await self.reconcile()

    # --- status ------------------------------------------------------------------------------------

    async def _publish_status(self) -> None:
        await self._publish(PartnerStatusChanged(self.config.id, self.status()))

    def status(self) -> dict[str, Any]:
        """The figures /api/v1/partners and the dashboard show, gathered from the parts."""
        synced = [at for at in (self.pusher.last_pushed_at, self.orders.last_polled_at) if at is not None]
        return {
            "id": self.config.id,
            "kind": self.config.kind,
            "name": self.config.name,
            "base_url": self.connector.spec.base_url,
            "status": self._state(),
            "last_sync_at": max(synced, default=None),
            "circuit": self.calls.breaker.state,
            "rate_limit_use": self._limiter.usage(),
            **self.calls.figures(),
            **self.desired.figures(),
            **self.pusher.figures(),
            **self.pusher.counters(),
            **self.orders.counters(),
            **self.reconciler.counters(),
            **self.reconciler.last_read(),
            "in_sync": self._state() == "in_sync",
            "rate_limited": self.calls.rate_limited,
        }

    def rate_limit_use(self) -> dict[str, float]:
        return self._limiter.usage()

    def _state(self) -> str:
        if not self.connected:
            return "connecting"
        if self.calls.breaker.state != "closed":
            return "failing"
        if self.desired.outbox.pending():
            return "syncing"
        return "in_sync" if self.reconciler.last_read_agreed else "unverified"
