"""The Shopify simulator the Shopify connector tests run against, over real HTTP on loopback: a
stand-in for our webhook ingress, a simulator started for a test, and a connector started on it. The
fixtures made of them (inbox, session, shop) are in conftest."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from aiohttp import web

from connectors.base import PartnerSpec
from connectors.shopify import ShopifyConnector
from simulators.base import SimConfig
from simulators.shopify import ShopifySimulator
from sync.limits import RateLimiter

SKUS = [f"SHEET-{i:03d}" for i in range(12)]


class Inbox:
    """Threadcount's webhook ingress, reduced to what the tests look at: every delivery, and the
    status to answer (the first `refuse` deliveries get a 500, so Shopify retries)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.refuse = 0
        self.url = ""

    async def receive(self, request: web.Request) -> web.Response:
        self.deliveries.append((dict(request.headers), await request.read()))
        if self.refuse > 0:
            self.refuse -= 1
            return web.Response(status=500)
        return web.Response(text="ok")

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert len(self.deliveries) >= count, f"only {len(self.deliveries)} of {count} deliveries arrived"
        return self.deliveries



class running:
    """A started simulator, stopped on the way out."""

    def __init__(self, skus: list[str], **config: Any) -> None:
        self.sim = ShopifySimulator(SimConfig(partner_id="shopify-test",
                                              credentials=ShopifySimulator.demo_credentials("shopify-test"),
                                              skus=skus, retry_delays=(0.05, 0.05), **config))

    async def __aenter__(self) -> ShopifySimulator:
        await self.sim.start(port=0)
        return self.sim

    async def __aexit__(self, *_exc: object) -> None:
        await self.sim.stop()


async def connected(sim: ShopifySimulator, session: aiohttp.ClientSession, limiter: RateLimiter | None = None,
                    credentials: dict[str, str] | None = None,
                    options: dict[str, Any] | None = None) -> ShopifyConnector:
    spec = PartnerSpec(id="shopify-test", kind="shopify", base_url=sim.base_url,
                       credentials=dict(credentials or sim.config.credentials), options=dict(options or {}))
    connector = ShopifyConnector(spec, session, limiter or RateLimiter.under(ShopifyConnector.rates(spec)))
    await connector.start()
    return connector
