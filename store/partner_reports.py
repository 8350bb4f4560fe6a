"""What the store knows about each partner's sync: its performance over a report window, its health
now (last good sync, lag, recent error rate) and the listings it shows wrongly. Live state (circuit,
rate-limit use) is the connector actors' and comes from the runtime."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from store.reports import Window
from store.schema import listings, partners, sync_logs, variants

PUSH = "push"  # the sync_logs kind of a quantity push
RECENT = 15 * 60.0  # seconds: the window of a partner's current error rate
DRIFTING = listings.c.pushed.is_(None) | (listings.c.pushed != listings.c.desired)


@dataclass(frozen=True, slots=True)
class PartnerHealth:
    partner_id: str
    kind: str
    name: str
    base_url: str
    status: str
    last_ok_at: float | None      # the last successful sync call
    oldest_drift_at: float | None  # since when the longest-waiting listing differs from what was pushed
    drifting: int                  # listings whose pushed quantity differs from the desired one
    recent_calls: int
    recent_failures: int

    def lag(self, now: float) -> float | None:
        return None if self.oldest_drift_at is None else max(0.0, now - self.oldest_drift_at)

    @property
    def error_rate(self) -> float | None:
        return self.recent_failures / self.recent_calls if self.recent_calls else None


async def partner_health(engine: AsyncEngine, now: float | None = None) -> list[PartnerHealth]:
    """One statement; each figure is an indexed look-up per partner (few partners, many rows)."""
    since = (time.time() if now is None else now) - RECENT
    mine = sync_logs.c.partner_id == partners.c.id
    recent = mine & (sync_logs.c.at >= since)
    last_ok = (select(sync_logs.c.at).where(mine, sync_logs.c.ok)
               .order_by(sync_logs.c.at.desc()).limit(1).scalar_subquery())
    drift = listings.c.partner_id == partners.c.id
    query = select(
        partners.c.id, partners.c.kind, partners.c.name, partners.c.base_url, partners.c.status, last_ok,
        select(func.min(listings.c.desired_at)).where(drift, DRIFTING).scalar_subquery(),
        select(func.count()).where(drift, DRIFTING).scalar_subquery(),
        select(func.count()).where(recent).scalar_subquery(),
        select(func.count()).where(recent, ~sync_logs.c.ok).scalar_subquery(),
    ).order_by(partners.c.id)
    async with engine.connect() as conn:
        rows: list[Any] = list(await conn.execute(query))
    return [PartnerHealth(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class Drift:
    sku: str
    desired: int
    pushed: int | None
    since: float  # when the listing's desired quantity last moved away from the pushed one
    last_error: str


async def drifting_listings(engine: AsyncEngine, per_partner: int = 20) -> dict[str, list[Drift]]:
    """Each partner's longest-waiting listings that show the wrong quantity."""
    ranked = (select(listings.c.partner_id, variants.c.sku, listings.c.desired, listings.c.pushed,
                     listings.c.desired_at, listings.c.last_error,
                     func.row_number().over(partition_by=listings.c.partner_id,
                                            order_by=(listings.c.desired_at, variants.c.sku)).label("n"))
              .join_from(listings, variants, variants.c.id == listings.c.variant_id)
              .where(DRIFTING).subquery())
    query = (select(ranked.c.partner_id, ranked.c.sku, ranked.c.desired, ranked.c.pushed,
                    ranked.c.desired_at, ranked.c.last_error)
             .where(ranked.c.n <= per_partner).order_by(ranked.c.partner_id, ranked.c.n))
    found: dict[str, list[Drift]] = {}
    async with engine.connect() as conn:
        for partner_id, *row in await conn.execute(query):
            found.setdefault(partner_id, []).append(Drift(*row))
    return found


@dataclass(frozen=True, slots=True)
class PartnerPerformance:
    partner_id: str
    name: str
    calls_ok: int
    calls_failed: int
    pushes_ok: int
    pushes_failed: int
    listings_pushed: int            # listings brought in line in the window
    average_push_lag: float | None  # seconds from a listing's change to the push that matched it
    max_push_lag: float | None


async def partner_performance(engine: AsyncEngine, window: Window) -> list[PartnerPerformance]:
    failed, push = ~sync_logs.c.ok, sync_logs.c.kind == PUSH
    logs = (select(sync_logs.c.partner_id,
                   func.sum(case((sync_logs.c.ok, 1), else_=0)).label("ok"),
                   func.sum(case((failed, 1), else_=0)).label("failed"),
                   func.sum(case((push & sync_logs.c.ok, 1), else_=0)).label("push_ok"),
                   func.sum(case((push & failed, 1), else_=0)).label("push_failed"))
            # naming the partners lets the (partner_id, at) index serve each one's range
            .where(sync_logs.c.partner_id.in_(select(partners.c.id)), sync_logs.c.at >= window.since,
                   sync_logs.c.at < window.until)
            .group_by(sync_logs.c.partner_id).subquery())
    lag = listings.c.pushed_at - listings.c.desired_at
    pushed = (select(listings.c.partner_id, func.count().label("n"), func.avg(lag).label("avg"),
                     func.max(lag).label("max"))
              .where(listings.c.pushed_at >= window.since, listings.c.pushed_at < window.until,
                     listings.c.pushed_at >= listings.c.desired_at)
              .group_by(listings.c.partner_id).subquery())
    query = (select(partners.c.id, partners.c.name, *(func.coalesce(c, 0) for c in (
                        logs.c.ok, logs.c.failed, logs.c.push_ok, logs.c.push_failed, pushed.c.n)),
                    pushed.c.avg, pushed.c.max)
             .select_from(partners.outerjoin(logs, logs.c.partner_id == partners.c.id)
                          .outerjoin(pushed, pushed.c.partner_id == partners.c.id))
             .order_by(partners.c.id))
    async with engine.connect() as conn:
        rows: list[Any] = list(await conn.execute(query))
    return [PartnerPerformance(pid, name, int(ok), int(bad), int(push_ok), int(push_bad), int(n),
                               _seconds(avg), _seconds(longest))
            for pid, name, ok, bad, push_ok, push_bad, n, avg, longest in rows]


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)
