"""GET /reports?days=7|30|90: sales by channel, turnover and sell-through, days of cover, fulfilment
time and partner performance, as charts (web/static/reports.js draws them with chart.js) and tables;
GET /reports/<name>.csv?days= is the same rows as CSV."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from store import partner_reports, reports
from store.reports import Window, day_label
from web.csv_text import csv_text
from web.dashboard.session import render, require_user
from web.http import runtime

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
TABLE_ROWS = 50  # on the page; the CSV has every row
CHART_ITEMS = 20


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    title: str
    note: str
    columns: list[str]
    rows: list[list[Any]]  # ready to show: the table and the CSV are the same rows
    charts: list[dict[str, Any]] = field(default_factory=list)


def chart(chart_id: str, title: str, kind: str, labels: list[str], datasets: list[dict[str, Any]],
          **options: Any) -> dict[str, Any]:
    """What reports.js needs to draw one chart. A dataset with "axis": "y2" uses the right-hand scale;
    "whole": True marks counts, whose axis gets whole-number ticks."""
    return {"id": chart_id, "title": title, "type": kind, "labels": labels, "datasets": datasets, **options}


def _days(window: Window) -> list[str]:
    first, last = int(window.since // reports.DAY), int(window.until // reports.DAY)
    return [day_label(day) for day in range(first, last + 1)]


def _blank(value: float | None, none: str = "") -> float | str:
    return none if value is None else value


async def sales(engine: AsyncEngine, window: Window) -> Report:
    rows = await reports.sales_by_channel(engine, window)
    days, channels = _days(window), sorted({r.channel for r in rows})
    units = {(r.day, r.channel): r.units for r in rows}
    placed = {(r.day, r.channel): r.orders for r in rows}

    def per_channel(values: dict[tuple[str, str], int]) -> list[dict[str, Any]]:
        return [{"label": c, "data": [values.get((d, c), 0) for d in days], "whole": True} for c in channels]

    return Report("sales", "Sales by channel", "Units and orders per day (UTC) and channel; rejected and "
                  "cancelled lines are not sales.", ["day", "channel", "orders", "units"],
                  [[r.day, r.channel, r.orders, r.units] for r in rows],
                  [chart("sales-units", "Units per day", "bar", days, per_channel(units), stacked=True),
                   chart("sales-orders", "Orders per day", "line", days, per_channel(placed))])


async def turnover(engine: AsyncEngine, window: Window) -> Report:
    rows = await reports.turnover(engine, window)
    top = sorted(rows, key=lambda r: (-r.sold, -r.fulfilled, r.sku))[:CHART_ITEMS]
    labels = [r.sku for r in top]
    return Report(
        "turnover", "Turnover and sell-through by product",
        "Turnover: units shipped / time-weighted average on hand over the period. Sell-through: units sold / "
        "(units sold + units still available).",
        ["product", "name", "sold", "shipped", "on_hand", "average_on_hand", "turnover", "sell_through_pct"],
        [[r.sku, r.name, r.sold, r.fulfilled, r.on_hand, r.average_on_hand, _blank(r.turnover),
          _blank(None if r.sell_through is None else round(100 * r.sell_through, 1))] for r in rows],
        [chart("turnover", f"Best sellers (top {len(top)} by units sold)", "bar", labels, [
            {"label": "turnover (times)", "data": [r.turnover or 0 for r in top]},
            {"label": "sell-through %", "axis": "y2", "type": "line",
             "data": [round(100 * (r.sell_through or 0), 1) for r in top]}])])


async def cover(engine: AsyncEngine, window: Window) -> Report:
    rows = await reports.days_of_cover(engine, window)
    short = [r for r in rows if r.days is not None][:CHART_ITEMS]
    return Report(
        "cover", "Days of cover by variant",
        "Units available in all locations / average units sold per day over the period; ∞ when none sold. "
        "Fewest days first.",
        ["sku", "available", "sold", "per_day", "days_of_cover"],
        [[r.sku, r.available, r.sold, r.daily, _blank(r.days, "∞")] for r in rows],
        [chart("cover", f"Fewest days of cover ({len(short)} variants)", "bar", [r.sku for r in short],
               [{"label": "days of cover", "data": [r.days for r in short]}], horizontal=True)])


async def fulfilment(engine: AsyncEngine, window: Window) -> Report:
    found = await reports.fulfilment_times(engine, window)
    labels = [d.day for d in found.days]
    return Report(
        "fulfilment", "Fulfilment time", "From an order's placing to its shipment (its fulfil ledger "
        "entries), by the day it shipped.", ["day", "orders", "average_hours", "max_hours"],
        [[d.day, d.orders, d.average_hours, d.max_hours] for d in found.days],
        [chart("fulfilment-days", "Average hours to ship, per day", "line", labels, [
            {"label": "average hours", "data": [d.average_hours for d in found.days]},
            {"label": "orders shipped", "axis": "y2", "type": "bar", "whole": True,
             "data": [d.orders for d in found.days]}]),
         chart("fulfilment-spread", "Orders by time to ship", "bar", [label for label, _ in found.buckets],
               [{"label": "orders", "data": [n for _, n in found.buckets], "whole": True}])])


async def partners(engine: AsyncEngine, window: Window) -> Report:
    rows = await partner_reports.partner_performance(engine, window)
    labels = [r.partner_id for r in rows]
    return Report(
        "partners", "Partner performance", "Calls to each partner (pushes, polls, reconciliations) that "
        "succeeded or failed; push lag: from a listing's change to the push that matched it.",
        ["partner", "name", "calls_ok", "calls_failed", "pushes_ok", "pushes_failed", "listings_pushed",
         "average_push_lag_s", "max_push_lag_s"],
        [[r.partner_id, r.name, r.calls_ok, r.calls_failed, r.pushes_ok, r.pushes_failed, r.listings_pushed,
          _blank(r.average_push_lag), _blank(r.max_push_lag)] for r in rows],
        [chart("partner-pushes", "Pushes", "bar", labels, [
            {"label": "ok", "data": [r.pushes_ok for r in rows], "whole": True},
            {"label": "failed", "data": [r.pushes_failed for r in rows], "whole": True}], stacked=True),
         chart("partner-lag", "Average push lag (s)", "bar", labels, [
             {"label": "seconds", "data": [r.average_push_lag or 0 for r in rows]}])])


REPORTS: dict[str, Callable[[AsyncEngine, Window], Awaitable[Report]]] = {
    "sales": sales, "turnover": turnover, "cover": cover, "fulfilment": fulfilment, "partners": partners,
}


def period(request: Request) -> int | None:
    raw = request.query_params.get("days", str(DEFAULT_DAYS))
    return int(raw) if raw.isdigit() and int(raw) in PERIODS else None


def period_error(request: Request) -> str:
    return (f"days: {request.query_params.get('days')!r} is not a period here; choose one of "
            f"{', '.join(map(str, PERIODS))}")


@require_user
async def reports_page(request: Request) -> Response:
    days, error = period(request), ""
    if days is None:
        days, error = DEFAULT_DAYS, period_error(request)
    engine, window = runtime(request).read_engine, Window.last(days)
    found = await asyncio.gather(*(build(engine, window) for build in REPORTS.values()))
    context = {"reports": found, "days": days, "periods": PERIODS, "error": error, "table_rows": TABLE_ROWS,
               "charts": [c for report in found for c in report.charts]}
    block = "report_body" if request.headers.get("hx-target") == "reports" else None
    return render(request, "reports.html", context, status=400 if error else 200, block=block)


@require_user
async def report_csv(request: Request) -> Response:
    build = REPORTS.get(request.path_params["name"])
    if build is None:
        return PlainTextResponse(f"report: no report {request.path_params['name']!r}; reports are "
                                 f"{', '.join(REPORTS)}", status_code=404)
    days = period(request)
    if days is None:
        return PlainTextResponse(period_error(request), status_code=400)
    report = await build(runtime(request).read_engine, Window.last(days))
    text = csv_text(report.columns, report.rows, lineterminator="\n")
    filename = f"threadcount-{report.name}-{days}d.csv"
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


routes = [
    Route("/reports", reports_page, methods=["GET"]),
    Route("/reports/{name}.csv", report_csv, methods=["GET"]),
]
