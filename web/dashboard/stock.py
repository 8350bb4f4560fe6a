"""GET /stock: every variant's stock by location, filtered; kept live by /stream."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from store.stock_grid import MAX_ROWS, filter_options
from web.dashboard.session import render, require_user
from web.dashboard.stock_rows import StockFilters, grid_rows
from web.http import runtime


def fragment_for(request: Request, target: str) -> bool:
    """An htmx request aimed at one element gets only that element's block back."""
    return bool(request.headers.get("hx-request")) and request.headers.get("hx-target") == target


@require_user
async def stock_page(request: Request) -> Response:
    rt = runtime(request)
    filters = StockFilters.from_query(request.query_params)
    rows = await grid_rows(rt.read_engine, filters)
    context = {
        "filters": filters,
        "rows": rows,
        "max_rows": MAX_ROWS,
        "query": urlencode(filters.query()),
        "location_codes": [location.code for location in rt.catalog.locations()],
    }
    if fragment_for(request, "stock-grid"):
        return render(request, "stock.html", context, block="grid")
    context["options"] = await filter_options(rt.read_engine)
    return render(request, "stock.html", context)


routes = [Route("/stock", stock_page, methods=["GET"])]
