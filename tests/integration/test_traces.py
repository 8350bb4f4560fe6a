"""One order's trace across the processes, as a collector receives it over OTLP/HTTP: the web app's
request span (this process, through the real app and its middleware), the router's shard.call, the
shard actor's batch and group commit, and the partner actor's push to a real Shopify simulator, all
under the request's trace id with the parents README's "Traces" names. Real Ray actors on the
session's Ray, each set up by OTEL_EXPORTER_OTLP_ENDPOINT in its own environment."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from actors import tracing
from actors.hub import HUB_NAME, hub_actor_class
from actors.partner import partner_actor_class
from actors.router import ShardRouter
from actors.shard import shard_actor_class
from connectors.base import PartnerSpec
from inventory.commands import Receive
from inventory.desk import Channel, StockDesk
from service.config import Settings, load_settings
from service.runtime import Runtime
from store import listings
from store.catalog import Catalog, NewVariant
from store.engine import make_engine
from sync.config import PartnerConfig
from sync.rules import ShowRule
from tests.conftest import sqlite_database
from tests.harness.otlp import OtlpReceiver, Received
from tests.harness.secret_box import fresh_box
from tests.integration.shopify_shop import SKUS, running

TOKEN = "trace-test-token"
PARTNER = "shopify-test"
SERVER, CLIENT = 2, 3  # OTLP's SpanKind numbers


class Wired(Runtime):
    """The web app's runtime, wired to the test's own store and shards."""

    def __init__(self, settings: Settings, engine: Any, catalog: Catalog, desk: StockDesk):
        super().__init__(settings)
        self._engine, self._catalog, self._desk = engine, catalog, desk
        self.api_token, self.ready = TOKEN, True


@pytest.fixture
def otlp_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    env: dict[str, str] = {}
    yield env
    tracing.stop()  # already stopped unless the test failed before it


@pytest_asyncio.fixture
async def receiver(otlp_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[OtlpReceiver]:
    async with OtlpReceiver() as found:
        otlp_env.update(OTEL_EXPORTER_OTLP_ENDPOINT=found.url, OTEL_BSP_SCHEDULE_DELAY="100")
        for name, value in otlp_env.items():
            monkeypatch.setenv(name, value)
        assert tracing.start("web")
        yield found


class Actors:
    """A hub, one shard and the Shopify partner's connector actor, traced, killed on the way out."""

    def __init__(self, ray: Any, url: str, env: dict[str, str], sim_url: str, credentials: dict[str, str],
                 east: int):
        options = {"runtime_env": {"env_vars": env}}
        shard_name = f"trace-shard-{uuid.uuid4().hex[:6]}"
        self.ray = ray
        self.hub = hub_actor_class().options(name=HUB_NAME, get_if_exists=True, **options).remote()
        self.shard = shard_actor_class().options(name=shard_name, **options).remote(0, 1, url)
        config = PartnerConfig(PARTNER, "shopify", "Shop", sim_url, credentials, {})
        spec = PartnerSpec(PARTNER, "shopify", sim_url, dict(credentials), {}, "Shop")
        self.partner = partner_actor_class().options(**options).remote(
            config, spec, Channel(PARTNER, "reject", (east,)), ShowRule(), url, "FULL", [shard_name],
            secret_keys=fresh_box().keys)

    async def __aenter__(self) -> Actors:
        await self.shard.ready.remote()
        await self.partner.ready.remote()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await asyncio.gather(self.partner.stop.remote(), self.shard.stop.remote())  # each flushes its spans
        for actor in (self.partner, self.shard, self.hub):
            self.ray.kill(actor, no_restart=True)


async def seeded(url: str) -> tuple[Any, Catalog, int]:
    engine = make_engine(url)
    catalog = Catalog(engine)
    east = await catalog.add_location("WH-EAST", "East", "warehouse", 10)
    await catalog.add_product("SHEET", "Percale sheet", "", [NewVariant(sku, "queen", "white", "percale")
                                                           for sku in SKUS])
    await catalog.refresh()
    await listings.ensure_partner(engine, PARTNER, "shopify", "Shop", "", "reject", {})
    return engine, catalog, east.id


async def test_one_orders_trace_runs_from_the_request_through_the_shard_and_its_commit_to_the_partner_push(
        ray_session: Any, tmp_path: Path, receiver: OtlpReceiver, otlp_env: dict[str, str]) -> None:
    url = await sqlite_database(tmp_path)
    engine, catalog, east = await seeded(url)
    variant = await catalog.variant_id(SKUS[0])
    assert variant is not None
    async with running(SKUS) as sim, Actors(ray_session, url, otlp_env, sim.base_url,
                                             dict(sim.config.credentials), east) as actors:
        desk = StockDesk(ShardRouter.for_actors([actors.shard]))
        try:
            await desk.stock_command(Receive("stock-in", variant, east, 10))  # untraced: no request span
            await shows(sim, SKUS[0], 10)
            settings = load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path), "THREADCOUNT_DEMO": "0"})
            from web.app import create_app

            app = create_app(Wired(settings, engine, catalog, desk))
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                                         headers={"Authorization": f"Bearer {TOKEN}"}) as client:
                answer = await client.post("/api/v1/orders", json={
                    "channel": "direct", "external_id": "traced-1", "lines": [{"sku": SKUS[0], "quantity": 3}]})
            assert answer.status_code == 201, answer.text
            await shows(sim, SKUS[0], 7)
        finally:
            await desk.router.close()
            await engine.dispose()
    await asyncio.to_thread(tracing.stop)  # this process's spans go out now (to this loop's receiver)
    spans = await receiver.wait_for(lambda got: any(s.name == "partner.push" for s in got)
                                    and any(s.name == "POST /api/v1/orders" for s in got))
    request = one(spans, "POST /api/v1/orders")
    trace = [s for s in spans if s.trace_id == request.trace_id]
    call, batch, commit, push = (one(trace, n) for n in ("shard.call", "shard.batch", "shard.commit",
                                                         "partner.push"))
    assert (request.process, request.kind, call.process, call.kind) == ("web", SERVER, "web", CLIENT)
    assert (batch.process, batch.kind, commit.process) == ("shard-0", SERVER, "shard-0")
    assert (push.process, push.kind) == (f"partner-{PARTNER}", CLIENT)
    assert call.parent_id == request.span_id and batch.parent_id == call.span_id
    assert commit.parent_id == batch.span_id and push.parent_id == batch.span_id
    assert push.attributes == {"threadcount.partner": PARTNER, "threadcount.listings": 1}
    untraced = [s for s in spans if s.name == "shard.batch" and s.trace_id != request.trace_id]
    assert untraced == []  # the stock receipt came from no traced request: no span of its own


def one(spans: list[Received], name: str) -> Received:
    named = [s for s in spans if s.name == name]
    assert len(named) == 1, f"{len(named)} spans named {name}: {named}"
    return named[0]


async def shows(sim: Any, sku: str, quantity: int, timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while sim.listings.get(sku) != quantity:
            await asyncio.sleep(0.05)
