"""The demo's outbox writes what it receives where the README says; an alert's repeats send nothing
(the watcher publishes only an alert that opens, and the notifier hears only those)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from service.demo_notify import DEMO_EMAIL, DEMO_NUMBER, DemoOutbox
from service.events import LiveEvent, live_data
from service.notify import Notifier, Opened
from service.notify_config import NotifySettings
from service.watch import AlertWatcher, NewAlert
from store.engine import make_engine
from store.notifications import recent_attempts


async def until(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


async def test_the_demo_outbox_logs_mail_and_texts_in_the_data_folder(tmp_path: Path, database_url: str) -> None:
    outbox = DemoOutbox(tmp_path)
    engine = make_engine(database_url)
    settings = await outbox.start(NotifySettings(digest_window=0.2))
    notifier = Notifier(engine, settings, "http://127.0.0.1:8000/alerts")
    notifier.start()
    try:
        await notifier.opened(Opened("low_stock", "SHEET-9", "SHEET-9: 1 available"))
        mail, texts = tmp_path / "demo-mail.log", tmp_path / "demo-sms.log"
        await until(lambda: mail.exists() and texts.exists())
        assert DEMO_EMAIL in mail.read_text() and "SHEET-9" in mail.read_text()
        assert DEMO_NUMBER in texts.read_text() and "SHEET-9" in texts.read_text()
    finally:
        await notifier.stop()
        await outbox.stop()
        await engine.dispose()


class Feed:
    """The event feed's two ends the watcher and the notifier use, in one process."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue()
        self.seq = 0

    async def publish(self, fact: Any) -> None:
        self.seq += 1
        await self.queue.put(LiveEvent(self.seq, "alert", live_data(fact, str)))

    async def subscribe(self) -> AsyncIterator[LiveEvent]:
        while True:
            yield await self.queue.get()


class Runtime:
    def __init__(self, engine: Any, feed: Feed):
        self.engine = self.read_engine = engine
        self.events = feed


async def test_an_alerts_repeats_send_nothing(tmp_path: Path, database_url: str) -> None:
    outbox = DemoOutbox(tmp_path)
    engine = make_engine(database_url)
    feed = Feed()
    watcher = AlertWatcher(Runtime(engine, feed))  # type: ignore[arg-type]
    notifier = Notifier(engine, await outbox.start(NotifySettings(digest_window=0.1)), "http://x/alerts")
    notifier.start(feed.subscribe)
    try:
        await watcher._raise([NewAlert("low_stock", "SHEET-3", "SHEET-3: 0 available")])
        await until(lambda: outbox.sms is not None and len(outbox.sms.messages) == 1)
        for _ in range(5):  # the same open alert seen again: counted, not published
            await watcher._raise([NewAlert("low_stock", "SHEET-3", "SHEET-3: 0 available")])
        await asyncio.sleep(1.0)
        assert outbox.sms is not None and len(outbox.sms.messages) == 1
        assert len(await recent_attempts(engine)) == 2  # one e-mail, one text
    finally:
        await notifier.stop()
        await outbox.stop()
        await engine.dispose()
