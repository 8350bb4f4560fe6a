"""The demo's outbox: with demo on and no THREADCOUNT_SMTP_URL / THREADCOUNT_SMS_URL given, a local
mail server (aiosmtpd) and the SMS simulator receive the alert notifications, and append each message
to DATA_DIR/demo-mail.log and DATA_DIR/demo-sms.log (one JSON line per text) for a person to read."""

from __future__ import annotations

import dataclasses
import secrets
import socket
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from service.notify_config import NotifySettings, SmsTarget, SmtpTarget
from simulators.sms import SmsSimulator

DEMO_EMAIL = "manager@threadcount.local"
DEMO_NUMBER = "+15550100000"


class MailLog:
    def __init__(self, path: Path):
        self.path = path

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        text = envelope.content.decode("utf-8", "replace") if isinstance(envelope.content, bytes) \
            else str(envelope.content)
        with self.path.open("a") as out:
            out.write(f"--- to {', '.join(envelope.rcpt_tos)}\n{text}\n")
        return "250 OK"


class DemoOutbox:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.mail: Controller | None = None
        self.sms: SmsSimulator | None = None

    async def start(self, settings: NotifySettings) -> NotifySettings:
        """Start what is missing and return the settings that send to it."""
        changes: dict[str, Any] = {}
        if settings.smtp is None:
            port = _free_port()
            self.mail = Controller(MailLog(self.data_dir / "demo-mail.log"), hostname="127.0.0.1", port=port)
            self.mail.start()
            changes.update(smtp=SmtpTarget("127.0.0.1", port), email_to=settings.email_to or (DEMO_EMAIL,))
        if settings.sms is None:
            account, token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
            self.sms = SmsSimulator(account, token, self.data_dir / "demo-sms.log")
            await self.sms.start()
            changes.update(sms=SmsTarget(self.sms.base_url, account, token, "+15550199999"),
                           sms_to=settings.sms_to or (DEMO_NUMBER,))
        return dataclasses.replace(settings, **changes)

    async def stop(self) -> None:
        if self.mail is not None:
            self.mail.stop()
        if self.sms is not None:
            await self.sms.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
