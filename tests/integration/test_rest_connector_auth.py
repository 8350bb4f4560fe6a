"""The `rest` connector's other declared auths and cursor, against a small partner served by the
test itself over loopback HTTP: OAuth2 client credentials (token fetched once, fetched again when
refused) and a bearer token with a timestamp cursor sent as unix seconds."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web

from connectors.base import Listing, PartnerSpec
from connectors.rest import RestConnector
from simulators.base import bound_port
from sync.limits import RateLimiter


def orders_changed_lately(now: int) -> list[dict[str, Any]]:
    return [{"ref": "A", "state": "new", "modified": now - 30, "rows": [{"code": "SHEET-1", "n": 2}]},
            {"ref": "B", "state": "new", "modified": now - 10, "rows": [{"code": "SHEET-2", "n": 1}]}]


def declaration(auth: dict[str, Any]) -> dict[str, Any]:
    return {
        "auth": auth,
        "push": {"method": "PATCH", "path": "/stock/{sku}", "batch_size": 1, "body": {"level": "{item}"},
                 "item": "{quantity}"},
        "orders": {"path": "/orders", "cursor": {"kind": "timestamp", "param": "since", "format": "unix",
                                                 "next": "max(orders[].modified)", "lookback_s": 60},
                   "orders": "orders", "id": "ref", "status": "state", "lines": "rows", "sku": "code",
                   "quantity": "n", "statuses": {"created": ["new"]}},
    }


class Partner:
    def __init__(self, token: str):
        self.token, self.issued, self.seen_since, self.levels = token, 0, [], {}
        self.now = int(time.time())
        self.changed = orders_changed_lately(self.now)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/oauth/token", self.oauth)
        app.router.add_get("/orders", self.orders)
        app.router.add_patch("/stock/{sku}", self.stock)
        return app

    async def oauth(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (form.get("grant_type"), form.get("client_id"), form.get("client_secret")) != (
                "client_credentials", "cid", "secret"):
            return web.json_response({"error": "invalid_client"}, status=401)
        self.issued += 1
        self.token = f"issued-{self.issued}"
        return web.json_response({"access_token": self.token, "token_type": "bearer", "expires_in": 3600})

    def authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def orders(self, request: web.Request) -> web.Response:
        if not self.authorised(request):
            return web.json_response({"error": "expired"}, status=401)
        since = int(request.query["since"])
        self.seen_since.append(since)
        return web.json_response({"orders": [o for o in self.changed if o["modified"] >= since]})

    async def stock(self, request: web.Request) -> web.Response:
        if not self.authorised(request):
            return web.json_response({"error": "expired"}, status=401)
        self.levels[request.match_info["sku"]] = (await request.json())["level"]
        return web.json_response({})


@contextlib.asynccontextmanager
async def serving(partner: Partner, auth: dict[str, Any], credentials: dict[str, str]
                  ) -> AsyncIterator[RestConnector]:
    runner = web.AppRunner(partner.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    spec = PartnerSpec("shop", "rest", f"http://127.0.0.1:{bound_port(site)}", credentials, declaration(auth))
    try:
        async with aiohttp.ClientSession() as session:
            yield RestConnector(spec, session, RateLimiter.under(RestConnector.rates(spec)))
    finally:
        await runner.cleanup()


async def test_oauth2_client_credentials_fetch_a_token_once_and_again_when_it_is_refused() -> None:
    partner = Partner(token="")
    auth = {"type": "oauth2_client_credentials", "token_path": "/oauth/token"}
    async with serving(partner, auth, {"client_id": "cid", "client_secret": "secret"}) as connector:
        await connector.push([Listing("SHEET-1", 3), Listing("SHEET/2", 0)])
        assert partner.levels == {"SHEET-1": 3, "SHEET/2": 0} and partner.issued == 1
        partner.token = "revoked-at-the-partner"
        page = await connector.fetch_orders(str(partner.now - 20), 50)
        assert [e.order_id for e in page.events] == ["B"] and partner.issued == 2


async def test_a_bearer_token_and_a_unix_timestamp_cursor_read_on_from_the_newest_change() -> None:
    partner = Partner(token="static-token")
    async with serving(partner, {"type": "bearer", "credential": "token"}, {"token": "static-token"}) as connector:
        first = await connector.fetch_orders(None, 50)
        now = partner.now
        assert [e.order_id for e in first.events] == ["A", "B"] and first.cursor == str(now - 10)
        assert now - 62 <= partner.seen_since[0] <= now - 58   # lookback_s before now
        again = await connector.fetch_orders(first.cursor, 50)
        assert partner.seen_since[-1] == now - 10 and [e.order_id for e in again.events] == ["B"]
