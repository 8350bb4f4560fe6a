"""Alert notifications, off the stock path: the Notifier listens to the event feed for alerts that
open (a repeat of an open alert publishes nothing, so it sends nothing), finds who hears of each
(config rules, the THREADCOUNT_NOTIFY_* recipients; after a reset of the feed, the alerts opened
meanwhile are read from the store), and gathers them per (channel, recipient) for
`digest_window` seconds: one alert is one message, a burst is one digest. Quiet hours hold a rule's
messages until they end, then send what gathered as a digest. Each message is sent by a background
task with retries and backoff; every attempt is a row in `notifications`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from service.events import Dropped
from service.metrics import NOTIFICATIONS
from service.notify_config import SEVERITY, NotifySettings, Rule, held_until, parse_rules
from service.notify_send import SendError, email_message, send_email, send_sms
from store.alerts import recent_alerts
from store.notifications import contacts_of_roles, record_attempt, saved_rules

log = logging.getLogger(__name__)
TICK = 0.25  # seconds between looks at what is due
MAX_SENDING = 8  # messages in flight at once
DIGEST_LINES = 200  # alerts a digest lists; the rest are counted


@dataclass(frozen=True, slots=True)
class Opened:
    kind: str
    key: str
    message: str


@dataclass(slots=True)
class Batch:
    due: float
    alerts: list[Opened] = field(default_factory=list)


class Notifier:
    def __init__(self, engine: AsyncEngine, settings: NotifySettings, link: str,
                 now: Callable[[], datetime] = datetime.now):
        self._engine = engine
        self.settings = settings
        self._link = link
        self._now = now
        self._pending: dict[tuple[str, str], Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._sending = asyncio.Semaphore(MAX_SENDING)
        self.rules: tuple[Rule, ...] = settings.rules  # config.yaml's, until a manager saved others
        self.rules_saved = False

    async def load_rules(self) -> None:
        """The rules a manager saved on the dashboard replace config.yaml's."""
        text = await saved_rules(self._engine)
        if text is not None:
            try:
                self.rules, self.rules_saved = parse_rules(text), True
            except ValueError as exc:  # saved by a version that read them otherwise
                log.error("notifications: the saved rules are not read (%s); config.yaml's hold", exc)

    @property
    def enabled(self) -> bool:
        return self.settings.smtp is not None or self.settings.sms is not None

    def start(self, events: Callable[[], AsyncIterator[Any]] | None = None) -> None:
        """`events`: the feed's subscribe; without it alerts come only through `opened`."""
        if not self._loops:
            self._loops = [asyncio.ensure_future(self._flush_loop())]
            if events is not None:
                self._loops.append(asyncio.ensure_future(self._listen(events)))

    async def stop(self) -> None:
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        for task in [*self._loops, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._loops, self._tasks = [], set()

    async def _listen(self, events: Callable[[], AsyncIterator[Any]]) -> None:
        started = time.time()
        heard: set[int] = set()
        while True:
            try:
                async for event in events():
                    if event.topic == "alert" and event.data.get("state") == "open":
                        data = event.data
                        if int(data["id"]) not in heard:
                            await self.opened(Opened(str(data["kind"]), str(data["key"]),
                                                     str(data["message"])))
                            heard.add(int(data["id"]))  # after: one that failed is caught up below
            except asyncio.CancelledError:
                raise
            except Dropped:
                pass  # the feed was reset (the hub restarted, or we fell behind): catch up from the store
            except Exception:
                log.exception("notifier: handling an event failed; listening again")
                await asyncio.sleep(1.0)
            await self._catch_up(started, heard)

    async def _catch_up(self, since: float, heard: set[int]) -> None:
        """Alerts that opened since the notifier started and were not heard of as events."""
        try:
            missed = [a for a in await recent_alerts(self._engine, 1000)
                      if a.raised_at >= since and a.id not in heard]
        except Exception:
            log.exception("notifier: reading the alerts missed failed")
            return
        for alert in sorted(missed, key=lambda a: a.raised_at):
            await self.opened(Opened(alert.kind, alert.key, alert.message))
            heard.add(alert.id)

    async def opened(self, alert: Opened) -> None:
        """An alert opened: queue it for everyone who hears of it. Never waits on a mail server."""
        if not self.enabled:
            return
        now, wall = time.monotonic(), self._now()
        for (channel, to), held in (await self.recipients(alert.kind, wall)).items():
            release = now + (held - wall).total_seconds() if held is not None else now
            batch = self._pending.get((channel, to))
            if batch is None:
                self._pending[(channel, to)] = Batch(max(now + self.settings.digest_window, release), [alert])
            else:
                batch.alerts.append(alert)
                batch.due = max(batch.due, release)

    async def recipients(self, kind: str, wall: datetime) -> dict[tuple[str, str], datetime | None]:
        """(channel, recipient) -> when quiet hours hold it until (None: not held). A recipient that
        some rule lets through now is not held."""
        found: dict[tuple[str, str], datetime | None] = {}

        def add(channel: str, to: str, held: datetime | None) -> None:
            if (self.settings.smtp if channel == "email" else self.settings.sms) is None:
                return
            if (channel, to) in found:
                before = found[(channel, to)]
                found[(channel, to)] = None if before is None or held is None else min(before, held)
            else:
                found[(channel, to)] = held

        for address in self.settings.email_to:
            add("email", address, None)
        for number in self.settings.sms_to:
            add("sms", number, None)
        for rule in self.rules:
            if not rule.matches(kind):
                continue
            held = held_until(rule.quiet_hours, wall)
            contacts = await contacts_of_roles(self._engine, rule.roles)
            for channel in rule.channels:
                for to in rule.to:
                    if (channel == "email") == ("@" in to):
                        add(channel, to, held)
                for email, phone in contacts:
                    contact = email if channel == "email" else phone
                    if contact:
                        add(channel, contact, held)
        return found

    async def send_test(self) -> int:
        """A test message now to every recipient of any rule or variable (quiet hours ignored)."""
        targets: set[tuple[str, str]] = set()
        for kind in SEVERITY:  # every kind: whoever hears of any alert
            targets.update((await self.recipients(kind, self._now())).keys())
        for channel, to in sorted(targets):
            self._spawn(channel, to, "test", "Threadcount: a test message",
                        ["This is a test message from Threadcount: alerts will reach you here."])
        return len(targets)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self.flush_due(time.monotonic())

    def flush_due(self, now: float) -> None:
        for target, batch in list(self._pending.items()):
            if batch.due <= now:
                del self._pending[target]
                self._send_batch(*target, batch.alerts)

    def _send_batch(self, channel: str, to: str, alerts: list[Opened]) -> None:
        if len(alerts) == 1:
            alert = alerts[0]
            subject = f"Threadcount alert: {alert.kind.replace('_', ' ')} {alert.key}"
            self._spawn(channel, to, alert.kind, subject, [alert.message])
        else:
            subject = f"Threadcount: {len(alerts)} alerts opened"
            lines = [f"{a.kind}: {a.message}" for a in alerts[:DIGEST_LINES]]
            if len(alerts) > DIGEST_LINES:
                lines.append(f"... and {len(alerts) - DIGEST_LINES} more: see the alerts page")
            self._spawn(channel, to, "digest", subject, lines)

    def _spawn(self, channel: str, to: str, kind: str, subject: str, lines: list[str]) -> None:
        task = asyncio.ensure_future(self._deliver(channel, to, kind, subject, lines))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, channel: str, to: str, kind: str, subject: str, lines: list[str]) -> None:
        attempts = self.settings.attempts
        for attempt in range(1, attempts + 1):
            try:
                async with self._sending:
                    await self._send_once(channel, to, subject, lines)
            except SendError as exc:
                last = attempt == attempts
                log.warning("notification to %s by %s failed (attempt %d of %d): %s", to, channel, attempt,
                            attempts, exc)
                await self._record(kind, channel, to, "failed" if last else "retrying", str(exc))
                if last:
                    return
                await asyncio.sleep(self.settings.backoff * 2 ** (attempt - 1))
            else:
                await self._record(kind, channel, to, "sent", None)
                return

    async def _send_once(self, channel: str, to: str, subject: str, lines: list[str]) -> None:
        settings = self.settings
        if channel == "email" and settings.smtp is not None:
            await send_email(settings.smtp, email_message(settings.sender, to, subject, lines, self._link))
        elif channel == "sms" and settings.sms is not None:
            body = subject if len(lines) > 1 else f"{subject}: {lines[0]}"
            await send_sms(settings.sms, to, f"{body} {self._link}")

    async def _record(self, kind: str, channel: str, to: str, outcome: str, error: str | None) -> None:
        NOTIFICATIONS.labels(channel, outcome).inc()
        try:
            await record_attempt(self._engine, kind, channel, to, outcome, error)
        except Exception:
            log.exception("notifier: recording an attempt failed")
