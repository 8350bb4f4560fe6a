"""A stand-in for Twilio's Messages API, for the demo and the tests: `POST
/2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP basic auth (AccountSid:AuthToken) and form
fields To, From, Body; answers 201 with the message resource, or Twilio's error shape `{"code",
"message", "more_info", "status"}` with 401 (bad credentials) or 400 (a field missing or wrong).
`GET /messages` lists what was received (newest last); each message is also appended to `log_file`
when given. `POST /_sim/fail` with `{"count": n}` answers the next n sends with 500."""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from simulators.base import bound_port
from simulators.http import json_object, whole_number

PATH = "/2010-04-01/Accounts/{account}/Messages.json"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_BODY = 1600


def twilio_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message,
                              "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
                             status=status)


class SmsSimulator:
    def __init__(self, account: str, token: str, log_file: Path | None = None):
        self.account, self.token = account, token
        self.log_file = log_file
        self.messages: list[dict[str, Any]] = []
        self.fail_next = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(PATH, self.create_message)
        app.router.add_get("/messages", self.list_messages)
        app.router.add_post("/_sim/fail", self.set_failures)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = bound_port(site)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _authorized(self, request: web.Request, account: str) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (scheme.lower() == "basic" and secrets.compare_digest(user, self.account)
                and secrets.compare_digest(password, self.token) and account == self.account)

    async def create_message(self, request: web.Request) -> web.Response:
        account = request.match_info["account"]
        if not self._authorized(request, account):
            return twilio_error(401, 20003, "Authenticate")
        if self.fail_next > 0:
            self.fail_next -= 1
            return twilio_error(500, 20500, "Internal Server Error")
        form = await request.post()
        to, sender, body = (str(form.get(name, "")) for name in ("To", "From", "Body"))
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not sender:
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return twilio_error(400, 21602, "Message body is required.")
        if len(body) > MAX_BODY:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        created = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
        message = {"sid": "SM" + secrets.token_hex(16), "account_sid": account, "to": to, "from": sender,
                   "body": body, "status": "queued", "date_created": created}
        self.messages.append(message)
        if self.log_file is not None:
            with self.log_file.open("a") as out:
                out.write(json.dumps(message) + "\n")
        return web.json_response(message, status=201)

    async def list_messages(self, request: web.Request) -> web.Response:
        return web.json_response({"messages": self.messages})

    async def set_failures(self, request: web.Request) -> web.Response:
        self.fail_next = max(0, whole_number((await json_object(request)).get("count"), 1))
        return web.json_response({"fail_next": self.fail_next})
