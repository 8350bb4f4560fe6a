"""Sending one message: e-mail over SMTP (aiosmtplib: STARTTLS, implicit TLS, AUTH) with a plain-text
and an HTML part; SMS as a form POST to a Twilio-compatible Messages API (aiohttp, basic auth)."""

from __future__ import annotations

import html
from email.message import EmailMessage

import aiohttp
import aiosmtplib

from service.notify_config import SmsTarget, SmtpTarget

TIMEOUT = 10.0  # seconds for one attempt (connect, send, answer)


class SendError(Exception):
    """One attempt failed; the message says why (no secrets in it)."""


def email_message(sender: str, to: str, subject: str, lines: list[str], link: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content("\n".join(lines) + f"\n\nOpen the alerts: {link}\n")
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    message.add_alternative(
        f"<html><body><p>{html.escape(subject)}</p><ul>{items}</ul>"
        f'<p><a href="{html.escape(link, quote=True)}">Open the alerts</a></p></body></html>', subtype="html")
    return message


async def send_email(target: SmtpTarget, message: EmailMessage) -> None:
    try:
        await aiosmtplib.send(message, hostname=target.host, port=target.port, username=target.username,
                              password=target.password, use_tls=target.implicit_tls,
                              start_tls=bool(target.starttls), timeout=TIMEOUT)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise SendError(f"SMTP {target.host}:{target.port}: {exc}"[:500]) from None


async def send_sms(target: SmsTarget, to: str, body: str) -> None:
    url = f"{target.base_url}/2010-04-01/Accounts/{target.account}/Messages.json"
    headers = {"Authorization": aiohttp.encode_basic_auth(target.account, target.token)}
    try:
        async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
                    session.post(url, data={"To": to, "From": target.sender, "Body": body[:1600]},
                                 headers=headers) as answer):
            if answer.status < 300:
                return
            try:
                detail = (await answer.json(content_type=None)).get("message", "")
            except Exception:
                detail = ""
            raise SendError(f"SMS API answered {answer.status}: {str(detail)[:300]}")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise SendError(f"SMS API: {exc.__class__.__name__} {exc}"[:500]) from None
