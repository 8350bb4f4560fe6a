"""A partner's sync without Ray, on SQLite and PostgreSQL, against a partner that lives in memory:
zeros are pushed first and what the partner was told is stored, drift is pushed again, a webhook
delivery is taken once, and the status gathers every part's figures under the keys it always had."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

from connectors.base import (
    Connector,
    Listing,
    OrderEvent,
    OrderEventKind,
    OrderLine,
    OrderPage,
    PartnerSpec,
    PushResult,
)
from connectors.limits import RateSpec
from inventory.commands import VariantStock
from inventory.desk import Channel, StockDesk
from inventory.events import DomainEvent
from store import listings as store
from store.catalog import Catalog
from store.engine import make_engine
from sync.assembly import PartnerPlan, assemble
from sync.config import PartnerConfig
from sync.desired import DesiredQuantities
from sync.intake import IntakeReport, OrderIntake
from sync.limits import RateLimiter
from sync.partner_sync import PartnerSync
from sync.rules import ShowRule
from tests.harness.secret_box import fresh_box
from tests.integration.conftest import Fixture, small_catalog

STATUS_KEYS = {
    "id", "kind", "name", "base_url", "status", "last_sync_at", "circuit", "rate_limit_use", "errors_recent",
    "last_error", "pending", "oldest_pending_s", "listings", "desired_changes", "pushes_saved_by_coalescing",
    "lag_p50_s", "lag_p99_s", "pushes", "listings_pushed", "push_failures", "polls", "orders_taken",
    "webhooks", "webhooks_duplicate", "reconciled", "drift_corrected", "rate_limited",
    "last_read_at", "last_read_agreed", "in_sync", "buffer",
}


class MemoryPartner(Connector):
    kind = "memory"
    max_push_batch = 2
    capabilities = ("push", "webhook")

    def __init__(self) -> None:
        super().__init__(PartnerSpec("mem", "memory", "http://mem", {}), None, RateLimiter({}))
        self.shown: dict[str, int] = {}
        self.batches: list[list[Listing]] = []

    async def push(self, listings: Sequence[Listing]) -> list[PushResult]:
        self.batches.append(list(listings))
        self.shown.update({listing.sku: listing.quantity for listing in listings})
        return [PushResult(listing.sku, True) for listing in listings]

    async def fetch_orders(self, cursor: str | None, page_size: int) -> OrderPage:
        return OrderPage([], cursor)

    async def read_listings(self, skus: Sequence[str]) -> dict[str, int]:
        return {sku: self.shown[sku] for sku in skus if sku in self.shown}

    def webhook_event_id(self, headers: Mapping[str, str], body: bytes) -> str | None:
        return headers.get("X-Delivery")

    async def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[OrderEvent]:
        return [OrderEvent("e1", OrderEventKind.CREATED, "o1", (OrderLine("SHEET-0", 1),))]


class RecordingIntake(OrderIntake):
    def __init__(self) -> None:  # no desk: these tests look at the sync, not at the shards
        self.taken: list[OrderEvent] = []

    async def take(self, events: Sequence[OrderEvent]) -> IntakeReport:
        self.taken.extend(events)
        return IntakeReport(applied=len(events))


class Running:
    def __init__(self, sync: PartnerSync, partner: MemoryPartner, intake: RecordingIntake,
                 alerts: list[tuple[str, str, str]], fx: Fixture, engine: Any):
        self.sync, self.partner, self.intake, self.alerts = sync, partner, intake, alerts
        self.fx, self.engine = fx, engine

    def stock(self, *quantities: int) -> None:
        """Variant i now has quantities[i] available in the east warehouse."""
        self.sync.on_stock([VariantStock(self.fx.variants[i], {self.fx.east: (q, 0)}, 0)
                            for i, q in enumerate(quantities)])

    async def read_agreed(self) -> None:
        async with asyncio.timeout(5):
            while not self.sync.status()["in_sync"]:
                await asyncio.sleep(0.01)

    async def shows(self, expected: dict[str, int]) -> None:
        async with asyncio.timeout(10):
            while self.partner.shown != expected or self.sync.desired.outbox.pending():
                await asyncio.sleep(0.01)


NO_RULE = ShowRule()
BOX = fresh_box()  # one key for the module: a restarted sync reads what the first one sealed


@contextlib.asynccontextmanager
async def running(database_url: str, fx: Fixture | None = None, partner: MemoryPartner | None = None,
                  follow: tuple[str, ...] | bool | None = False, show: ShowRule = NO_RULE,
                  intake: RecordingIntake | None = None) -> AsyncIterator[Running]:
    """A started sync; given the fixture and partner of an earlier one, that sync restarted."""
    fx = fx or await small_catalog(database_url, variants=3)
    engine = make_engine(database_url)
    partner, intake = partner or MemoryPartner(), intake or RecordingIntake()
    alerts: list[tuple[str, str, str]] = []

    async def publish(fact: DomainEvent) -> None:
        pass

    async def alert(kind: str, key: str, message: str) -> None:
        alerts.append((kind, key, message))

    config = PartnerConfig("mem", "memory", "Memory", "", {}, {})
    await store.ensure_partner(engine, "mem", "memory", "Memory", "http://mem", "reject", {})
    catalog = Catalog(engine)
    desired = DesiredQuantities("mem", Channel("mem", "reject", (fx.east,)), show, catalog, engine,
                                follow=follow)
    sync = PartnerSync(config, partner, RateLimiter({}), desired, intake, engine, publish, alert, BOX)
    await sync.start()
    try:
        yield Running(sync, partner, intake, alerts, fx, engine)
    finally:
        await sync.stop()
        await engine.dispose()


async def test_zeros_are_pushed_first_and_what_the_partner_was_told_is_stored(database_url: str) -> None:
    async with running(database_url) as run:
        run.stock(5, 0, 3)
        await run.shows({"SHEET-0": 5, "SHEET-1": 0, "SHEET-2": 3})
        assert run.partner.batches[0][0] == Listing("SHEET-1", 0)
        told = {("SHEET-0", 5, 5), ("SHEET-1", 0, 0), ("SHEET-2", 3, 3)}
        async with asyncio.timeout(5):  # the push is recorded in memory first, then in the store
            while {(r.sku, r.desired, r.pushed) for r in await store.load_listings(run.engine, "mem")} != told:
                await asyncio.sleep(0.01)
        await run.read_agreed()  # "in sync" rests on a read of the partner after the pushes
        status = run.sync.status()
        assert set(status) == STATUS_KEYS
        assert (status["status"], status["pushes"], status["listings_pushed"]) == ("in_sync", 2, 3)
        assert status["in_sync"] and status["last_read_agreed"] is True
        assert status["last_sync_at"] is not None


async def test_a_listing_that_drifted_at_the_partner_is_pushed_again_with_an_alert(database_url: str) -> None:
    async with running(database_url) as run:
        run.stock(5, 2, 3)
        await run.shows({"SHEET-0": 5, "SHEET-1": 2, "SHEET-2": 3})
        await run.read_agreed()
        run.partner.shown["SHEET-1"] = 40  # edited by hand at the partner
        read_before = run.sync.status()["reconciled"]  # the start-up read counts too
        assert await run.sync.reconcile() == {"checked": 3, "corrected": 1}
        await run.shows({"SHEET-0": 5, "SHEET-1": 2, "SHEET-2": 3})
        assert [kind for kind, _, _ in run.alerts] == ["drift"]
        status = run.sync.status()
        # one read found the drift; a second may already have confirmed the correction
        assert status["reconciled"] - read_before in (1, 2) and status["drift_corrected"] == 1


async def test_two_reads_at_once_find_a_drift_once_and_alert_once(database_url: str) -> None:
    async with running(database_url) as run:
        run.stock(5, 2, 3)
        await run.shows({"SHEET-0": 5, "SHEET-1": 2, "SHEET-2": 3})
        await run.read_agreed()
        run.partner.shown["SHEET-1"] = 40
        found = await asyncio.gather(run.sync.reconcile(), run.sync.reconcile())
        assert sorted(f["corrected"] for f in found) == [0, 1]
        assert [kind for kind, _, _ in run.alerts] == ["drift"]


async def test_a_webhook_delivery_is_taken_once(database_url: str) -> None:
    async with running(database_url) as run:
        headers = {"X-Delivery": "d1"}
        assert await run.sync.take_webhook(headers, b"{}") == {"status": "ok", "taken": 1}
        assert await run.sync.take_webhook(headers, b"{}") == {"status": "duplicate", "taken": 0}
        assert [event.event_id for event in run.intake.taken] == ["e1"]
        status = run.sync.status()
        assert (status["webhooks"], status["webhooks_duplicate"], status["orders_taken"]) == (2, 1, 1)


async def test_the_assembled_connector_has_buckets_under_its_rates_and_none_left_after_a_restart(
        database_url: str) -> None:
    fx = await small_catalog(database_url, variants=1)
    engine = make_engine(database_url)

    async def publish(fact: DomainEvent) -> None:
        pass

    spec = PartnerSpec("acme", "wholesale", "sftp://127.0.0.1:1", {}, {"min_846_interval_s": 4})
    plan = PartnerPlan(PartnerConfig("acme", "wholesale", "Acme", "", {}, {}), spec,
                       Channel("acme", "reject", (fx.east,)), ShowRule(), box=fresh_box())
    try:
        for restarted in (False, True):
            sync = await assemble(plan, engine, cast(StockDesk, None), None, publish, empty_buckets=restarted)
            limiter = sync.connector.limiter
            assert isinstance(limiter, RateLimiter)
            assert limiter.buckets["upload_846"].spec == RateSpec(0.25 * 0.9, 1.0)
            assert limiter.would_wait("upload_846") is restarted
    finally:
        await engine.dispose()


async def test_a_partner_that_restarted_with_other_quantities_is_read_and_corrected_right_after_our_start(
        database_url: str) -> None:
    zeros = {"SHEET-0": 0, "SHEET-1": 0, "SHEET-2": 0}   # the store holds no stock here
    async with running(database_url) as run:
        await run.shows(zeros)
        fx, partner = run.fx, run.partner
    partner.shown = dict.fromkeys(zeros, 9)  # it came back showing its opening quantity, not ours
    started = time.monotonic()
    async with running(database_url, fx, partner) as again:
        await again.shows(zeros)
        assert time.monotonic() - started < 5  # not at the reconcile interval (300 s)
        await again.read_agreed()
        status = again.sync.status()
        # a listing whose push our first life had not yet recorded is pushed again without a read
        assert 1 <= status["drift_corrected"] <= 3
        assert (status["last_read_agreed"], status["status"]) == (True, "in_sync")


class UnreadablePartner(MemoryPartner):
    async def read_listings(self, skus: Sequence[str]) -> dict[str, int]:
        raise RuntimeError("the partner's read endpoint is down")


async def test_a_partner_never_read_is_not_in_sync_even_with_every_push_done(database_url: str) -> None:
    async with running(database_url, partner=UnreadablePartner()) as run:
        await run.shows({"SHEET-0": 0, "SHEET-1": 0, "SHEET-2": 0})
        status = run.sync.status()
        assert (status["in_sync"], status["last_read_at"], status["pending"]) == (False, None, 0)
        assert status["status"] != "in_sync"


async def test_a_location_added_after_start_serves_the_partners_listings_and_its_orders(database_url: str) -> None:
    zeros = {"SHEET-0": 0, "SHEET-1": 0, "SHEET-2": 0}
    async with running(database_url, follow=None) as run:   # the channel takes every location
        await run.shows(zeros)
        new = await Catalog(run.engine).add_location("STORE-NEW", "New store", "store", 30)
        await run.sync.level_pass()   # what the actor does on a CatalogChanged
        assert new.id in run.sync.desired.channel.locations
        assert new.id in run.intake.channel.locations          # webhook and polled orders reserve there
        run.sync.on_stock([VariantStock(run.fx.variants[0], {new.id: (7, 0)}, 0)])
        await run.shows({**zeros, "SHEET-0": 7})
