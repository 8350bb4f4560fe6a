"""Alert notifications reach a real SMTP server (aiosmtpd) and the Twilio-compatible SMS simulator:
one message per opened alert, one digest for a burst, nothing for repeats, retries recorded, quiet
hours held; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from email.message import Message
from typing import Any

import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from service.metrics import NOTIFICATIONS
from service.notify import Notifier, Opened
from service.notify_config import NotifySettings, Rule, SmsTarget, smtp_target
from simulators.sms import SmsSimulator
from store.engine import make_engine
from store.notifications import recent_attempts


class Inbox:
    def __init__(self, refuse: bool = False):
        self.messages: list[Message] = []
        self.refuse = refuse

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 mailbox busy, try later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def mail_server(box: Inbox) -> tuple[Controller, str]:
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, f"smtp://127.0.0.1:{port}"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, str]]:
    box = Inbox()
    controller, url = mail_server(box)
    try:
        yield box, url
    finally:
        controller.stop()


@pytest_asyncio.fixture
async def sms() -> AsyncIterator[SmsSimulator]:
    simulator = SmsSimulator("AC123", "secret-token")
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


def settings(smtp_url: str, sms: SmsSimulator | None, **more: Any) -> NotifySettings:
    return NotifySettings(
        smtp=smtp_target(smtp_url), email_to=("ops@example.com",),
        sms=SmsTarget(sms.base_url, "AC123", "secret-token", "+15550001111") if sms else None,
        sms_to=("+15550002222",) if sms else (), **{"digest_window": 0.5, "backoff": 0.05, **more})


async def wait_for(check: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


async def rows(engine: Any, count: int) -> list[Any]:
    deadline = time.monotonic() + 10
    while len(found := await recent_attempts(engine)) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return found


async def test_a_low_stock_alert_reaches_mail_and_sms_within_ten_seconds(
        database_url: str, inbox: tuple[Inbox, str], sms: SmsSimulator) -> None:
    box, url = inbox
    engine = make_engine(database_url)
    notifier = Notifier(engine, settings(url, sms, digest_window=5.0), "http://127.0.0.1:8000/alerts")
    notifier.start()
    sent_before = NOTIFICATIONS.labels("email", "sent")._value.get()
    try:
        await notifier.opened(Opened("low_stock", "SHEET-1", "SHEET-1: 2 available, at or below 5"))
        await wait_for(lambda: box.messages and sms.messages)
        mail = box.messages[0]
        assert mail["To"] == "ops@example.com" and "low stock SHEET-1" in mail["Subject"]
        parts = {part.get_content_type(): part.get_content() for part in mail.walk()  # type: ignore[attr-defined]
                 if not part.is_multipart()}
        assert "SHEET-1: 2 available" in parts["text/plain"]
        assert 'href="http://127.0.0.1:8000/alerts"' in parts["text/html"]
        assert sms.messages[0]["to"] == "+15550002222" and "SHEET-1" in sms.messages[0]["body"]
        attempts = await rows(engine, 2)
        assert sorted((a.channel, a.outcome, a.alert_kind) for a in attempts) == [
            ("email", "sent", "low_stock"), ("sms", "sent", "low_stock")]
        assert NOTIFICATIONS.labels("email", "sent")._value.get() == sent_before + 1   # and on /metrics
    finally:
        await notifier.stop()
        await engine.dispose()


async def test_a_burst_of_forty_alerts_is_one_digest_per_recipient_and_channel(
        database_url: str, inbox: tuple[Inbox, str], sms: SmsSimulator) -> None:
    box, url = inbox
    engine = make_engine(database_url)
    notifier = Notifier(engine, settings(url, sms, digest_window=1.0), "http://x/alerts")
    notifier.start()
    try:
        for i in range(40):
            await notifier.opened(Opened("low_stock", f"SKU-{i}", f"SKU-{i}: 0 available"))
        await wait_for(lambda: box.messages and sms.messages)
        await asyncio.sleep(1.5)
        assert len(box.messages) == 1 and len(sms.messages) == 1
        assert "40 alerts" in box.messages[0]["Subject"] and "40 alerts" in sms.messages[0]["body"]
        body = box.messages[0].get_body(("plain",))  # type: ignore[attr-defined]
        assert body is not None and "SKU-39: 0 available" in body.get_content()
        assert {a.alert_kind for a in await rows(engine, 2)} == {"digest"}
    finally:
        await notifier.stop()
        await engine.dispose()


async def test_a_refusing_mail_server_is_tried_three_times_and_recorded_as_failed_without_waiting_the_caller(
        database_url: str) -> None:
    box = Inbox(refuse=True)
    controller, url = mail_server(box)
    engine = make_engine(database_url)
    notifier = Notifier(engine, settings(url, None, digest_window=0.1), "http://x")
    notifier.start()
    try:
        started = time.monotonic()
        await notifier.opened(Opened("oversell", "SHEET-2", "oversold"))
        assert time.monotonic() - started < 0.5  # queued, not sent on the caller's path
        outcomes: list[str] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            outcomes = [a.outcome for a in await recent_attempts(engine)]
            if "failed" in outcomes:
                break
            await asyncio.sleep(0.1)
        assert sorted(outcomes) == ["failed", "retrying", "retrying"]
        error = (await recent_attempts(engine))[0].error
        assert error is not None and "451" in error
    finally:
        await notifier.stop()
        await engine.dispose()
        controller.stop()


async def test_a_hanging_mail_server_does_not_slow_whoever_raises_alerts(database_url: str) -> None:
    released = asyncio.Event()  # set at the end: the server's handlers end with the test

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await released.wait()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    engine = make_engine(database_url)
    notifier = Notifier(engine, settings(f"smtp://127.0.0.1:{port}", None, digest_window=0.0), "http://x")
    notifier.start()
    try:
        await notifier.opened(Opened("low_stock", "A", "a"))
        await asyncio.sleep(0.5)  # the first send is now stuck waiting for a greeting
        started = time.monotonic()
        for i in range(100):
            await notifier.opened(Opened("low_stock", f"B-{i}", "b"))
        assert time.monotonic() - started < 0.5
    finally:
        released.set()
        await notifier.stop()
        await engine.dispose()
        server.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_quiet_hours_hold_alerts_and_send_them_as_one_digest_when_they_end(
        database_url: str, inbox: tuple[Inbox, str]) -> None:
    box, url = inbox
    engine = make_engine(database_url)
    night = datetime(2026, 12, 2, 6, 59, 57)
    started = time.monotonic()
    rule = Rule(channels=("email",), to=("night@example.com",), quiet_hours=(22 * 60, 7 * 60))
    notifier = Notifier(engine, NotifySettings(smtp=smtp_target(url), rules=(rule,), digest_window=0.2),
                        "http://x", now=lambda: night)
    notifier.start()
    try:
        await notifier.opened(Opened("low_stock", "A", "a is low"))
        await notifier.opened(Opened("drift", "B", "b drifted"))
        await asyncio.sleep(2.0)
        assert box.messages == []  # held: quiet until 07:00, three seconds on
        await wait_for(lambda: box.messages, 5.0)
        assert time.monotonic() - started >= 2.9
        await asyncio.sleep(0.5)
        assert len(box.messages) == 1 and "2 alerts" in box.messages[0]["Subject"]
        assert box.messages[0]["To"] == "night@example.com"
    finally:
        await notifier.stop()
        await engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_test_message_reaches_every_recipient_whatever_kinds_their_rule_names(
        database_url: str, inbox: tuple[Inbox, str]) -> None:
    box, url = inbox
    engine = make_engine(database_url)
    rule = Rule(channels=("email",), kinds=("drift",), to=("drift@example.com",), quiet_hours=(0, 23 * 60 + 59))
    notifier = Notifier(engine, NotifySettings(smtp=smtp_target(url), email_to=("ops@example.com",),
                                               rules=(rule,)), "http://x")
    try:
        assert await notifier.send_test() == 2  # quiet hours aside
        await wait_for(lambda: len(box.messages) == 2)
        assert {m["To"] for m in box.messages} == {"ops@example.com", "drift@example.com"}
        assert {a.alert_kind for a in await rows(engine, 2)} == {"test"}
    finally:
        await notifier.stop()
        await engine.dispose()
