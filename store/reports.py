"""The managers' reports: sales by channel, turnover and sell-through, days of cover, fulfilment times
and partner performance over a window of days. Each is one statement of grouped aggregates, the same
for the chart and its CSV, and reads only the rows of its window: orders by their time-ordered key,
the ledger by a bisected id range (see `_ledger_floor`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, and_, case, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from inventory.commands import LineStatus
from inventory.holds import HOLD_CHANNEL
from store.kits import load_kits
from store.schema import inventory, ledger, order_kit_lines, order_lines, orders, products, variants
from store.stock_grid import kit_levels

DAY = 86_400.0
# Keys and timestamps are taken a moment apart, and shards' commits overlap: windows found through
# keys start this many seconds early, and the exact time condition does the rest.
SLACK = 300.0
SOLD = (LineStatus.OPEN, LineStatus.FULFILLED)  # lines that count as sales: not rejected, not cancelled


@dataclass(frozen=True, slots=True)
class Window:
    since: float
    until: float

    @classmethod
    def last(cls, days: int, now: float | None = None) -> Window:
        until = time.time() if now is None else now
        return cls(until - days * DAY, until)

    @property
    def days(self) -> float:
        return (self.until - self.since) / DAY


def day_label(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).date().isoformat()


class _day(FunctionElement[int]):
    """Whole UTC days since the epoch of a unix time."""

    type = Integer()
    inherit_cache = True


@compiles(_day)
def _day_default(element: _day, compiler: Any, **kw: Any) -> str:
    # the divisor is a literal, so GROUP BY repeats the expression verbatim
    return f"CAST(floor({compiler.process(element.clauses, **kw)} / 86400.0) AS INTEGER)"


@compiles(_day, "sqlite")
def _day_sqlite(element: _day, compiler: Any, **kw: Any) -> str:
    # SQLite has floor() only when built with its math functions; CAST truncates, and times are positive
    return f"CAST({compiler.process(element.clauses, **kw)} / 86400.0 AS INTEGER)"


def order_seq_floor(since: float) -> int:
    """The smallest order key placed at `since` could have: keys are milliseconds shifted past a
    counter and a generator byte (inventory.partition.OrderSeqs), so a window of orders is a key range."""
    return int((since - SLACK) * 1000) << 20


def _orders_in(window: Window) -> Any:
    """Orders placed in the window; a hold's part (inventory.holds) is no sale."""
    return and_(orders.c.seq >= order_seq_floor(window.since), orders.c.placed_at >= window.since,
                orders.c.placed_at < window.until, orders.c.channel != HOLD_CHANNEL)


async def _ledger_floor(conn: AsyncConnection, since: float) -> int:
    """The first ledger id that may lie in the window. Ids rise in commit order and `at` with them,
    give or take the moments shards' commits overlap. An index on `at` would cost every commit on the
    hot path, so the window is found by bisecting the primary key: a few dozen indexed probes."""
    lo, hi = (await conn.execute(select(func.min(ledger.c.id), func.max(ledger.c.id)))).one()
    if lo is None:
        return 0
    target, hi = since - SLACK, hi + 1
    while lo < hi:
        mid = (lo + hi) // 2
        probe = (await conn.execute(select(ledger.c.id, ledger.c.at).where(ledger.c.id >= mid)
                                    .order_by(ledger.c.id).limit(1))).one()
        if probe.at < target:
            lo = probe.id + 1
        else:
            hi = mid
    return int(lo)


async def _ledger_in(conn: AsyncConnection, window: Window) -> Any:
    return and_(ledger.c.id >= await _ledger_floor(conn, window.since), ledger.c.at >= window.since,
                ledger.c.at < window.until)


# -- sales by channel ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelDay:
    day: str
    channel: str
    orders: int
    units: int


async def sales_by_channel(engine: AsyncEngine, window: Window) -> list[ChannelDay]:
    lines = (
        select(_day(orders.c.placed_at).label("day"), orders.c.channel, orders.c.seq, order_lines.c.quantity)
        .join_from(orders, order_lines, order_lines.c.order_seq == orders.c.seq)
        .where(_orders_in(window), order_lines.c.state.in_(SOLD))
        .subquery()
    )
    query = (select(lines.c.day, lines.c.channel, func.count(func.distinct(lines.c.seq)),
                    func.sum(lines.c.quantity))
             .group_by(lines.c.day, lines.c.channel).order_by(lines.c.day, lines.c.channel))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [ChannelDay(day_label(day), channel, int(n), int(units)) for day, channel, n, units in rows]


def _sales(window: Window) -> Any:
    """(variant_id, quantity) of every sold line of the window's orders, and of every kit line too:
    a kit sold counts as a kit and, through its component lines, as the components it used. A kit
    line is sold when its first component line is (they move together)."""
    lines = (select(order_lines.c.variant_id, order_lines.c.quantity)
             .join_from(orders, order_lines, order_lines.c.order_seq == orders.c.seq)
             .where(_orders_in(window), order_lines.c.state.in_(SOLD)))
    kit_lines = (select(order_kit_lines.c.kit_id.label("variant_id"), order_kit_lines.c.quantity)
                 .join_from(orders, order_kit_lines, and_(order_kit_lines.c.order_id == orders.c.id,
                                                         order_kit_lines.c.signature == orders.c.signature))
                 .join(order_lines, and_(order_lines.c.order_seq == orders.c.seq,
                                         order_lines.c.line_no == order_kit_lines.c.first_line))
                 .where(_orders_in(window), order_lines.c.state.in_(SOLD)))
    return union_all(lines, kit_lines).subquery()


# -- turnover and sell-through per product -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProductTurnover:
    sku: str
    name: str
    sold: int               # units on orders placed in the window
    fulfilled: int          # units shipped in the window
    on_hand: int
    available: int
    average_on_hand: float  # time-weighted over the window, or since its first stock came in it
    turnover: float | None  # fulfilled / average on hand
    sell_through: float | None  # sold / (sold + available)


async def turnover(engine: AsyncEngine, window: Window) -> list[ProductTurnover]:
    stock = (select(variants.c.product_id, func.sum(inventory.c.on_hand).label("on_hand"),
                    func.sum(inventory.c.on_hand - inventory.c.reserved).label("available"))
             .join_from(inventory, variants, variants.c.id == inventory.c.variant_id)
             .group_by(variants.c.product_id).subquery())
    sales = _sales(window)
    sold = (select(variants.c.product_id, func.sum(sales.c.quantity).label("sold"))
            .join_from(sales, variants, variants.c.id == sales.c.variant_id)
            .group_by(variants.c.product_id).subquery())
    async with engine.connect() as conn:
        # on hand at time t is today's minus every later move, so its integral over the window is
        # T * on_hand - sum(delta * (at - since)): one pass over the window's ledger (see _average)
        moves = ledger.c.delta_on_hand != 0
        moved = (select(variants.c.product_id,
                        func.sum(case((ledger.c.kind == "fulfil", -ledger.c.delta_on_hand), else_=0))
                        .label("fulfilled"),
                        func.sum(ledger.c.delta_on_hand).label("net"),
                        func.sum(ledger.c.delta_on_hand * (ledger.c.at - window.since)).label("weighted"),
                        func.min(case((moves, ledger.c.at), else_=None)).label("first_move"))
                 .join_from(ledger, variants, variants.c.id == ledger.c.variant_id)
                 .where(await _ledger_in(conn, window))
                 .group_by(variants.c.product_id).subquery())
        query = (select(products.c.sku, products.c.name, func.coalesce(sold.c.sold, 0),
                        func.coalesce(moved.c.fulfilled, 0), func.coalesce(stock.c.on_hand, 0),
                        func.coalesce(stock.c.available, 0), func.coalesce(moved.c.net, 0),
                        func.coalesce(moved.c.weighted, 0), moved.c.first_move)
                 .select_from(products.outerjoin(stock, stock.c.product_id == products.c.id)
                              .outerjoin(sold, sold.c.product_id == products.c.id)
                              .outerjoin(moved, moved.c.product_id == products.c.id))
                 .order_by(products.c.sku))
        rows = (await conn.execute(query)).all()
    return [_turnover(window, *row) for row in rows]


def _average(window: Window, on_hand: int, net: int, weighted: float, first_move: float | None) -> float:
    """Time-weighted on hand. A product with none at the window's start is averaged from its first
    move in it: one received yesterday is not 'nearly empty' over the last 90 days."""
    start = window.since
    if first_move is not None and on_hand - net <= 0:
        start = max(window.since, float(first_move))
    span = window.until - start
    if span <= 0:
        return float(on_hand)
    integral = span * on_hand - (float(weighted) - (start - window.since) * net)
    return max(0.0, integral / span)


def _turnover(window: Window, sku: str, name: str, sold: int, fulfilled: int, on_hand: int,
              available: int, net: int, weighted: float, first_move: float | None) -> ProductTurnover:
    average = _average(window, int(on_hand), int(net), weighted, first_move)
    return ProductTurnover(
        sku, name, int(sold), int(fulfilled), int(on_hand), int(available), round(average, 2),
        round(fulfilled / average, 3) if average > 0 else None,
        round(sold / (sold + available), 3) if sold + available > 0 else None,
    )


# -- days of cover per variant -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VariantCover:
    sku: str
    available: int
    sold: int
    daily: float         # average units sold per day over the window
    days: float | None   # None: nothing sold, so the stock lasts for ever


async def days_of_cover(engine: AsyncEngine, window: Window) -> list[VariantCover]:
    """Most urgent first: the fewest days of cover, then the variants that sell nothing."""
    stock = (select(inventory.c.variant_id,
                    func.sum(inventory.c.on_hand - inventory.c.reserved).label("available"))
             .group_by(inventory.c.variant_id).subquery())
    sales = _sales(window)
    sold = (select(sales.c.variant_id, func.sum(sales.c.quantity).label("sold"))
            .group_by(sales.c.variant_id).subquery())
    query = (select(variants.c.id, variants.c.sku, func.coalesce(stock.c.available, 0),
                    func.coalesce(sold.c.sold, 0))
             .select_from(variants.outerjoin(stock, stock.c.variant_id == variants.c.id)
                          .outerjoin(sold, sold.c.variant_id == variants.c.id)))
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    kits = await kit_levels(engine, list(await load_kits(engine)))  # a kit's stock is its components'
    found = []
    for variant_id, sku, held, units in rows:
        available = kits[variant_id].available if variant_id in kits else held
        daily = units / window.days
        days = None if units <= 0 else round(max(0, available) / daily, 1)
        found.append(VariantCover(sku, int(available), int(units), round(daily, 2), days))
    found.sort(key=lambda c: (c.days is None, c.days or 0.0, -c.sold, c.sku))
    return found


# -- fulfilment time -----------------------------------------------------------------------------

BUCKETS = ((60.0, "< 1 min"), (3600.0, "1 min - 1 h"), (4 * 3600.0, "1 - 4 h"), (DAY, "4 - 24 h"),
           (3 * DAY, "1 - 3 days"), (None, "3 days +"))


@dataclass(frozen=True, slots=True)
class FulfilmentDay:
    day: str
    orders: int
    average_hours: float
    max_hours: float


@dataclass(frozen=True, slots=True)
class Fulfilment:
    days: list[FulfilmentDay]
    buckets: list[tuple[str, int]]  # how many orders took how long


async def fulfilment_times(engine: AsyncEngine, window: Window) -> Fulfilment:
    """From an order's placing to its last fulfil ledger entry (a split order ships from each shard),
    by the day it shipped."""
    async with engine.connect() as conn:
        shipped = (select(ledger.c.reference.label("order_id"), func.max(ledger.c.at).label("done_at"))
                   .where(await _ledger_in(conn, window), ledger.c.kind == "fulfil")
                   .group_by(ledger.c.reference).subquery())
        took = shipped.c.done_at - orders.c.placed_at
        bucket = case(*((took < limit, n) for n, (limit, _) in enumerate(BUCKETS) if limit is not None),
                      else_=len(BUCKETS) - 1)
        each = (select(_day(shipped.c.done_at).label("day"), bucket.label("bucket"), took.label("took"))
                .join_from(shipped, orders, orders.c.id == shipped.c.order_id).subquery())
        query = (select(each.c.day, each.c.bucket, func.count(), func.sum(each.c.took), func.max(each.c.took))
                 .group_by(each.c.day, each.c.bucket).order_by(each.c.day))
        rows = (await conn.execute(query)).all()
    per_day: dict[int, list[float]] = {}
    counts = [0] * len(BUCKETS)
    for day, n_bucket, count, total, longest in rows:
        acc = per_day.setdefault(day, [0, 0.0, 0.0])
        acc[0] += count
        acc[1] += float(total)
        acc[2] = max(acc[2], float(longest))
        counts[n_bucket] += count
    return Fulfilment(
        [FulfilmentDay(day_label(day), int(n), round(total / n / 3600, 2), round(longest / 3600, 2))
         for day, (n, total, longest) in sorted(per_day.items())],
        [(label, counts[n]) for n, (_, label) in enumerate(BUCKETS)],
    )
