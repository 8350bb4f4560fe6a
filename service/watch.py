"""Alerts from the live stock feed: `low_stock` when a variant's available units (all locations) fall to
its reorder point or below, `backorder` when orders wait for units it does not have.

An alert is raised when its condition starts to hold, once: not again while it is open, nor after a
manager acknowledged it while the condition still holds; only when it clears and comes back. The
decision is `Watch.see` (pure); `AlertWatcher` feeds it the events and, every REFRESH seconds, the
store's levels, so a missed event or a reorder point changed without a stock move is caught too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inventory.events import AlertRaised
from service.events import Dropped, LiveEvent
from store.alerts import Alert, open_alerts, raise_alert
from store.watched_levels import watched_levels

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)
REFRESH = 15.0  # seconds between re-reads of reorder points, levels and open alerts
SOON = 0.2  # seconds: a bulk change of reorder points (one "variant" event each) is read once
WATCHED_KINDS = ("low_stock", "backorder")


@dataclass(frozen=True, slots=True)
class StockLevel:
    variant_id: int
    sku: str
    available: int
    backordered: int


@dataclass(frozen=True, slots=True)
class NewAlert:
    kind: str
    key: str
    message: str


def conditions(level: StockLevel, reorder_point: int | None) -> dict[str, str]:
    """Which alert conditions hold for this variant now, each with its message."""
    found = {}
    if reorder_point is not None and level.available <= reorder_point:
        found["low_stock"] = (f"{level.sku}: {level.available} available, at or below its reorder point "
                              f"of {reorder_point}")
    if level.backordered > 0:
        found["backorder"] = f"{level.sku}: {level.backordered} units backordered, waiting for stock"
    return found


@dataclass(slots=True)
class Watch:
    """What the watcher knows: reorder points, the open alerts, and which conditions held when each
    variant was last seen (so a condition that goes on holding is not raised again)."""

    reorder_points: dict[int, int] = field(default_factory=dict)
    open: set[tuple[str, str]] = field(default_factory=set)
    holding: set[tuple[str, str]] = field(default_factory=set)

    def see(self, level: StockLevel) -> list[NewAlert]:
        holds = conditions(level, self.reorder_points.get(level.variant_id))
        raised = []
        for kind in WATCHED_KINDS:
            key = (kind, level.sku)
            if kind not in holds:
                self.holding.discard(key)
                continue
            if key not in self.holding and key not in self.open:
                raised.append(NewAlert(kind, level.sku, holds[kind]))
            self.holding.add(key)
        return raised

    def opened(self, kind: str, key: str) -> None:
        self.open.add((kind, key))

    def closed(self, kind: str, key: str) -> None:
        self.open.discard((kind, key))


def level_of(data: dict[str, Any]) -> StockLevel | None:
    """A "stock" event's data as a level; None when it is not one."""
    try:
        return StockLevel(int(data["variant_id"]), str(data["sku"]), int(data["available"]),
                          int(data.get("backordered", 0)))
    except (KeyError, TypeError, ValueError):
        return None


def alert_raised(alert: Alert) -> AlertRaised:
    return AlertRaised(alert.id, alert.kind, alert.key, alert.message, alert.raised_at, alert.last_seen_at,
                       alert.count)


class AlertWatcher:
    """Runs in the service's process beside the event feed: `start()` after the feed, `stop()` before."""

    def __init__(self, runtime: Runtime, refresh: float = REFRESH):
        self._rt = runtime
        self._refresh = refresh
        self.watch = Watch()
        self._tasks: list[asyncio.Task[None]] = []
        self._soon: asyncio.Task[None] | None = None

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.ensure_future(self._listen()), asyncio.ensure_future(self._tick())]

    async def stop(self) -> None:
        if self._soon is not None:
            self._tasks.append(self._soon)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks, self._soon = [], None

    async def refresh(self) -> None:
        """Re-read the truth: reorder points, open alerts, and every watched variant's level."""
        engine = self._rt.read_engine
        levels = await watched_levels(engine)
        opened = await open_alerts(engine, limit=100_000)
        points = {w.variant_id: w.reorder_point for w in levels if w.reorder_point is not None}
        self.watch.reorder_points = points
        self.watch.open = {(a.kind, a.key) for a in opened if a.kind in WATCHED_KINDS}
        watched = {w.sku for w in levels}
        # a variant no longer watched (its stock came back, its reorder point was removed) holds nothing
        self.watch.holding = {(kind, sku) for kind, sku in self.watch.holding if sku in watched}
        for w in levels:
            await self._raise(self.watch.see(StockLevel(w.variant_id, w.sku, w.available, w.backordered)))

    async def _tick(self) -> None:
        while True:
            await self._refresh_logged()
            await asyncio.sleep(self._refresh)

    async def _refresh_logged(self) -> None:
        try:
            await self.refresh()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("alert watcher: reading the store failed; trying again")

    async def _listen(self) -> None:
        while True:
            try:
                async for event in self._rt.events.subscribe():
                    await self.on_event(event)
            except asyncio.CancelledError:
                raise
            except Dropped:
                await self._refresh_logged()  # events were missed: the store's levels say what they said
            except Exception:
                log.exception("alert watcher: handling an event failed; listening again")
                await asyncio.sleep(1.0)

    async def on_event(self, event: LiveEvent) -> None:
        if event.topic == "stock":
            level = level_of(event.data)
            if level is not None:
                await self._raise(self.watch.see(level))
        elif event.topic == "alert" and event.data.get("state") == "acknowledged":
            self.watch.closed(str(event.data.get("kind")), str(event.data.get("key")))
        elif event.topic in ("variant", "catalog"):
            self._refresh_soon()  # a reorder point changed (or new variants came)

    def _refresh_soon(self) -> None:
        if self._soon is None or self._soon.done():
            self._soon = asyncio.ensure_future(self._refresh_after(SOON))

    async def _refresh_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await self._refresh_logged()

    async def _raise(self, alerts: list[NewAlert]) -> None:
        for new in alerts:
            try:
                alert, is_new = await raise_alert(self._rt.engine, new.kind, new.key, new.message)
            except Exception:
                self.watch.holding.discard((new.kind, new.key))  # so the next sight of it tries again
                raise
            self.watch.opened(new.kind, new.key)
            if is_new:
                await self._rt.events.publish(alert_raised(alert))
