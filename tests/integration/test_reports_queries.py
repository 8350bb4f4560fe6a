"""The report and partner-health queries on SQLite and PostgreSQL, over rows written as the shards and
the connectors write them: orders keyed by time, an append-only ledger, listings and a sync log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.events import DomainEvent
from service.events import LiveEvent, live_data
from service.watch import AlertWatcher
from store.alerts import acknowledge, open_alerts
from store.catalog import Catalog, NewVariant
from store.engine import make_engine
from store.partner_reports import (
    Drift,
    drifting_listings,
    partner_health,
    partner_performance,
)
from store.reports import (
    DAY,
    ChannelDay,
    Window,
    _ledger_floor,
    day_label,
    days_of_cover,
    fulfilment_times,
    sales_by_channel,
    turnover,
)
from store.schema import inventory, ledger, listings, order_lines, orders, partners, sync_logs, variants
from store.watched_levels import watched_levels
from tests.conftest import postgres_database, sqlite_database
from tests.integration.conftest import small_catalog

HOUR = 3600.0


@dataclass(frozen=True)
class Shop:
    engine: AsyncEngine
    now: float
    ids: dict[str, int]  # sku -> variant id


def last_noon(at: float) -> float:
    """The shop's clock is set to noon (UTC, at or before `at`), so that events placed hours apart
    fall on the days the tests name whatever the time of day the suite runs at."""
    return (at - DAY / 2) // DAY * DAY + DAY / 2


def day_of(at: float) -> str:
    return day_label(int(at // DAY))


async def build_shop(url: str) -> Shop:
    """Three variants with stock and a history: see each test for what it implies."""
    fx = await small_catalog(url, variants=3)
    engine = make_engine(url)
    await Catalog(engine).add_product("PILLOW", "Pillowcase pair", "", [NewVariant("PILLOW-0")])
    now = last_noon(time.time())
    east, west = fx.east, fx.west
    v0, v1, v2 = fx.variants
    pillow = await Catalog(engine).variant_id("PILLOW-0")
    assert pillow is not None
    placed = {"o1": ("direct", now - 2 * DAY), "o2": ("amazon", now - 2 * DAY + HOUR),
              "o3": ("amazon", now - DAY), "o4": ("direct", now - 10 * DAY), "o5": ("etsy", now - DAY),
              "o6": ("amazon", now - HOUR)}
    lines = [("o1", v0, 3, 0, "fulfilled"), ("o2", v0, 2, 0, "open"), ("o3", v1, 4, 0, "rejected"),
             ("o4", v0, 5, 0, "fulfilled"), ("o5", pillow, 1, 0, "cancelled"), ("o5", pillow, 2, 0, "fulfilled"),
             ("o6", v2, 3, 3, "open")]
    moves = [  # (at, variant, location, kind, delta_on_hand, delta_reserved, reference)
        (now - 20 * DAY, v0, east, "receipt", 18, 0, None), (now - 20 * DAY, v1, east, "receipt", 5, 0, None),
        (now - 20 * DAY, pillow, west, "receipt", 6, 0, None),
        (now - 10 * DAY, v0, east, "reserve", 0, 5, "o4"), (now - 10 * DAY + 600, v0, east, "fulfil", -5, -5, "o4"),
        (now - 2 * DAY, v0, east, "reserve", 0, 3, "o1"),
        (now - 2 * DAY + HOUR, v0, east, "reserve", 0, 2, "o2"),
        (now - 2 * DAY + 2 * HOUR, v0, east, "fulfil", -3, -3, "o1"),
        (now - DAY, pillow, west, "reserve", 0, 2, "o5"), (now - DAY + 30, pillow, west, "fulfil", -2, -2, "o5"),
    ]
    async with engine.begin() as conn:
        seqs = {}
        for n, (order_id, (channel, at)) in enumerate(placed.items()):
            seqs[order_id] = int(at * 1000) << 20 | n  # as inventory.partition.OrderSeqs makes them
            await conn.execute(insert(orders).values(seq=seqs[order_id], id=order_id, channel=channel,
                                                     external_id=order_id, policy="backorder", locations="",
                                                     placed_at=at))
        await conn.execute(insert(order_lines), [
            {"order_seq": seqs[o], "line_no": n, "variant_id": v, "quantity": q, "backordered": b, "state": s}
            for n, (o, v, q, b, s) in enumerate(lines)])
        await conn.execute(insert(ledger), [
            {"at": at, "variant_id": v, "location_id": loc, "kind": kind, "delta_on_hand": d_on_hand,
             "delta_reserved": d_reserved, "reference": ref} for at, v, loc, kind, d_on_hand, d_reserved, ref in moves])
        await conn.execute(insert(inventory), [
            {"variant_id": v0, "location_id": east, "on_hand": 10, "reserved": 2, "updated_at": now},
            {"variant_id": v1, "location_id": east, "on_hand": 5, "reserved": 0, "updated_at": now},
            {"variant_id": pillow, "location_id": west, "on_hand": 4, "reserved": 0, "updated_at": now}])
        await conn.execute(update(variants).where(variants.c.id == v0).values(reorder_point=10))
        await conn.execute(insert(partners), [{"id": "amazon", "kind": "amazon", "name": "Amazon"},
                                              {"id": "etsy", "kind": "etsy", "name": "Etsy"}])
        await conn.execute(insert(sync_logs), [
            {"partner_id": "amazon", "at": now - at, "kind": kind, "ok": ok}
            for at, kind, ok in [(60, "push", True), (30, "push", False), (20, "poll", True),
                                 (2 * HOUR, "push", False), (10 * DAY, "push", True)]])
        await conn.execute(insert(listings), [
            {"partner_id": p, "variant_id": v, "desired": d, "desired_at": now - d_at, "pushed": pushed,
             "pushed_at": None if p_at is None else now - p_at}
            for p, v, d, d_at, pushed, p_at in [("amazon", v0, 8, 100, 8, 95), ("amazon", v1, 5, 50, 3, 200),
                                                ("amazon", pillow, 0, 300, None, None),
                                                ("etsy", v0, 8, 1000, 8, 990)]])
    return Shop(engine, now, {"SHEET-0": v0, "SHEET-1": v1, "SHEET-2": v2, "PILLOW-0": pillow})


@pytest_asyncio.fixture(scope="module", params=["sqlite", "postgres"])
async def shop(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Shop]:
    if request.param == "sqlite":
        built = await build_shop(await sqlite_database(Path(tmp_path_factory.mktemp("reports"))))
        yield built
        await built.engine.dispose()
    else:
        async with postgres_database() as url:
            built = await build_shop(url)
            yield built
            await built.engine.dispose()


async def test_sales_count_orders_and_units_per_channel_and_day_leaving_out_rejected_and_cancelled_lines(shop: Shop) -> None:
    rows = await sales_by_channel(shop.engine, Window.last(7, shop.now))
    expected = sorted([
        ChannelDay(day_of(shop.now - 2 * DAY), "direct", 1, 3), ChannelDay(day_of(shop.now - 2 * DAY + HOUR), "amazon", 1, 2),
        ChannelDay(day_of(shop.now - DAY), "etsy", 1, 2), ChannelDay(day_of(shop.now - HOUR), "amazon", 1, 3),
    ], key=lambda r: (r.day, r.channel))
    merged: dict[tuple[str, str], tuple[int, int]] = {}
    for r in expected:  # two amazon orders may fall on the same day
        orders_, units = merged.get((r.day, r.channel), (0, 0))
        merged[(r.day, r.channel)] = (orders_ + r.orders, units + r.units)
    assert [(r.day, r.channel, r.orders, r.units) for r in rows] == [(d, c, o, u) for (d, c), (o, u) in sorted(merged.items())]


async def test_an_order_older_than_the_window_counts_only_in_a_longer_one(shop: Shop) -> None:
    week = await sales_by_channel(shop.engine, Window.last(7, shop.now))
    month = await sales_by_channel(shop.engine, Window.last(30, shop.now))
    assert sum(r.units for r in month) - sum(r.units for r in week) == 5


async def test_turnover_divides_shipped_units_by_the_time_weighted_average_on_hand(shop: Shop) -> None:
    by_sku = {r.sku: r for r in await turnover(shop.engine, Window.last(7, shop.now))}
    sheet, pillow = by_sku["SHEET"], by_sku["PILLOW"]
    week = 7 * DAY
    # SHEET-0: 13 on hand until o1 shipped 3 (two days and two hours ago), 10 since; SHEET-1's 5 all along
    average = (13 * (5 * DAY + 2 * HOUR) + 10 * (2 * DAY - 2 * HOUR)) / week + 5
    assert (sheet.sold, sheet.fulfilled, sheet.on_hand, sheet.available) == (8, 3, 15, 13)
    assert sheet.average_on_hand == pytest.approx(average, abs=0.01)
    assert sheet.turnover == pytest.approx(3 / average, abs=0.001)
    assert sheet.sell_through == pytest.approx(8 / (8 + 13), abs=0.001)
    assert (pillow.sold, pillow.fulfilled, pillow.on_hand) == (2, 2, 4)
    assert pillow.average_on_hand == pytest.approx(4 + 2 * (6 * DAY + 30) / week, abs=0.01)
    assert pillow.sell_through == pytest.approx(2 / 6, abs=0.001)


async def test_a_product_that_had_no_stock_when_the_window_opened_is_averaged_from_its_first_receipt(shop: Shop) -> None:
    sheet = next(r for r in await turnover(shop.engine, Window.last(30, shop.now)) if r.sku == "SHEET")
    # received twenty days ago: 18 of SHEET-0 until o4 shipped 5, 13 until o1 shipped 3, 10 since; SHEET-1's 5
    held = 18 * (10 * DAY + 600) + 13 * (8 * DAY + 2 * HOUR - 600) + 10 * (2 * DAY - 2 * HOUR) + 5 * 20 * DAY
    assert sheet.average_on_hand == pytest.approx(held / (20 * DAY), abs=0.01)
    assert sheet.fulfilled == 8


async def test_days_of_cover_put_the_most_urgent_first_and_the_unsold_last_as_infinite(shop: Shop) -> None:
    covers = await days_of_cover(shop.engine, Window.last(7, shop.now))
    assert [(c.sku, c.available, c.sold, c.days) for c in covers] == [
        ("SHEET-2", 0, 3, 0.0), ("SHEET-0", 8, 5, round(8 / (5 / 7), 1)), ("PILLOW-0", 4, 2, 14.0),
        ("SHEET-1", 5, 0, None)]


async def test_fulfilment_time_runs_from_placing_to_the_last_fulfil_entry(shop: Shop) -> None:
    week = await fulfilment_times(shop.engine, Window.last(7, shop.now))
    assert {(d.day, d.orders, d.average_hours) for d in week.days} == {
        (day_of(shop.now - 2 * DAY + 2 * HOUR), 1, 2.0), (day_of(shop.now - DAY + 30), 1, 0.01)}
    assert dict(week.buckets) == {"< 1 min": 1, "1 min - 1 h": 0, "1 - 4 h": 1, "4 - 24 h": 0,
                                  "1 - 3 days": 0, "3 days +": 0}
    month = await fulfilment_times(shop.engine, Window.last(30, shop.now))
    assert dict(month.buckets)["1 min - 1 h"] == 1  # o4, ten days ago


async def test_partner_performance_counts_calls_and_pushes_and_the_lag_of_matched_pushes(shop: Shop) -> None:
    rows = {r.partner_id: r for r in await partner_performance(shop.engine, Window.last(7, shop.now))}
    amazon, etsy = rows["amazon"], rows["etsy"]
    assert (amazon.calls_ok, amazon.calls_failed, amazon.pushes_ok, amazon.pushes_failed) == (2, 2, 1, 2)
    assert (amazon.listings_pushed, amazon.average_push_lag, amazon.max_push_lag) == (1, 5.0, 5.0)
    assert (etsy.calls_ok, etsy.calls_failed, etsy.listings_pushed, etsy.average_push_lag) == (0, 0, 1, 10.0)


async def test_partner_health_gives_the_last_good_sync_the_lag_and_the_recent_error_rate(shop: Shop) -> None:
    health = {h.partner_id: h for h in await partner_health(shop.engine, shop.now)}
    amazon, etsy = health["amazon"], health["etsy"]
    assert amazon.last_ok_at == pytest.approx(shop.now - 20)
    assert amazon.lag(shop.now) == pytest.approx(300)
    assert (amazon.drifting, amazon.recent_calls, amazon.recent_failures) == (2, 3, 1)
    assert amazon.error_rate == pytest.approx(1 / 3)
    assert (etsy.last_ok_at, etsy.lag(shop.now), etsy.drifting, etsy.error_rate) == (None, None, 0, None)


async def test_drifting_listings_are_listed_longest_waiting_first(shop: Shop) -> None:
    drift = await drifting_listings(shop.engine)
    assert list(drift) == ["amazon"]
    assert [(d.sku, d.desired, d.pushed) for d in drift["amazon"]] == [("PILLOW-0", 0, None), ("SHEET-1", 5, 3)]
    assert isinstance(drift["amazon"][0], Drift)
    assert [d.sku for d in (await drifting_listings(shop.engine, per_partner=1))["amazon"]] == ["PILLOW-0"]


async def test_the_watcher_sees_variants_with_a_reorder_point_or_units_waiting(shop: Shop) -> None:
    levels = {w.sku: (w.reorder_point, w.available, w.backordered) for w in await watched_levels(shop.engine)}
    assert levels == {"SHEET-0": (10, 8, 0), "SHEET-2": (None, 0, 3)}


async def test_the_ledger_window_starts_at_or_before_its_first_entry_in_time(shop: Shop) -> None:
    async with shop.engine.connect() as conn:
        assert await _ledger_floor(conn, shop.now + DAY) > 0
        for days in (1, 3, 15, 30):
            floor = await _ledger_floor(conn, shop.now - days * DAY)
            rows = (await conn.execute(ledger.select().order_by(ledger.c.id))).all()
            inside = [r.id for r in rows if r.at >= shop.now - days * DAY]
            assert not inside or floor <= min(inside)
            assert all(r.at >= shop.now - days * DAY - 300 for r in rows if r.id >= floor)


class FakeFeed:
    """Keeps what was published as subscribers would read it."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any]]] = []

    async def publish(self, fact: DomainEvent) -> None:
        self.published.append((fact.topic, live_data(fact, str)))


@dataclass
class FakeRuntime:
    engine: AsyncEngine
    events: FakeFeed

    @property
    def read_engine(self) -> AsyncEngine:
        return self.engine


async def test_the_watcher_raises_each_alert_once_and_publishes_only_new_ones(shop: Shop) -> None:
    feed = FakeFeed()
    watcher = AlertWatcher(FakeRuntime(shop.engine, feed))  # type: ignore[arg-type]
    await watcher.refresh()
    assert sorted((d["kind"], d["key"]) for _, d in feed.published) == [("backorder", "SHEET-2"),
                                                                         ("low_stock", "SHEET-0")]
    sale = {"variant_id": shop.ids["SHEET-0"], "sku": "SHEET-0", "available": 7, "backordered": 0}
    await watcher.on_event(LiveEvent(1, "stock", sale))
    await watcher.refresh()
    assert len(feed.published) == 2
    low = next(a for a in await open_alerts(shop.engine) if a.kind == "low_stock")
    assert low.count == 1 and low.key == "SHEET-0"

    assert await acknowledge(shop.engine, low.id, "manager")
    await watcher.on_event(LiveEvent(2, "alert", {"kind": "low_stock", "key": "SHEET-0", "state": "acknowledged"}))
    await watcher.on_event(LiveEvent(3, "stock", {**sale, "available": 6}))
    assert len(feed.published) == 2  # still low: acknowledged means heard
    await watcher.on_event(LiveEvent(4, "stock", {**sale, "available": 30}))
    await watcher.on_event(LiveEvent(5, "stock", {**sale, "available": 9}))
    assert [(d["kind"], d["key"], d["state"]) for _, d in feed.published[2:]] == [("low_stock", "SHEET-0", "open")]


async def test_a_new_reorder_point_is_read_when_its_variant_event_comes_and_raises_at_once(shop: Shop) -> None:
    feed = FakeFeed()
    watcher = AlertWatcher(FakeRuntime(shop.engine, feed))  # type: ignore[arg-type]
    await watcher.refresh()
    async with shop.engine.begin() as conn:
        await conn.execute(update(variants).where(variants.c.id == shop.ids["SHEET-1"]).values(reorder_point=5))
    for seq in range(10, 15):  # a bulk change: one event per variant, one re-read
        await watcher.on_event(LiveEvent(seq, "variant", {"variant_id": shop.ids["SHEET-1"], "sku": "SHEET-1"}))
    deadline = asyncio.get_running_loop().time() + 10  # read SOON after (0.2 s), later on a loaded machine
    while ("low_stock", "SHEET-1") not in [(d["kind"], d["key"]) for _, d in feed.published]:
        assert asyncio.get_running_loop().time() < deadline, feed.published
        await asyncio.sleep(0.05)
    await watcher.stop()
