"""/orders: every channel's orders, newest first, filtered by channel and status; /orders/{id}: one
order with its lines, allocations and backorders, and its Fulfil and Cancel buttons, which go
through the desk as the REST routes do."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from inventory.commands import Failure
from service import orders
from store import queries
from store.order_search import STATUSES, search_orders
from web.dashboard.session import check_csrf, current_user, render, require_user
from web.http import runtime
from web.problems import not_found, refused
from web.views import order_view

PAGE = 100


@require_user
async def orders_page(request: Request) -> Response:
    rt = runtime(request)
    channel = request.query_params.get("channel", "").strip()
    status = request.query_params.get("status", "").strip()
    error = ""
    if channel and channel not in rt.settings.channels:
        error = f"channel: unknown channel {channel!r}"
    if status and status not in STATUSES:
        error = f"status: must be one of {', '.join(STATUSES)}"
    found = [] if error else await search_orders(rt.read_engine, channel or None, status or None, PAGE)
    context = {"orders": [order_view(rt.catalog, order) for order in found], "channel": channel,
               "status": status, "channels": list(rt.settings.channels), "statuses": STATUSES,
               "error": error, "page": PAGE}
    block = "results" if request.headers.get("hx-target") == "order-results" else None
    return render(request, "orders.html", context, status=400 if error else 200, block=block)


async def _order_page(request: Request, order_id: str, notice: str = "", error: str = "",
                      status: int = 200) -> Response:
    rt = runtime(request)
    found = await queries.order(rt.read_engine, order_id)
    if found is None:
        raise not_found(f"id: no order {order_id!r}")
    context = {"order": order_view(rt.catalog, found), "notice": notice, "error": error}
    return render(request, "order.html", context, status=status)


@require_user
async def order_page(request: Request) -> Response:
    notice = {"fulfil": "Fulfilled.", "cancel": "Cancelled."}.get(request.query_params.get("done", ""), "")
    return await _order_page(request, request.path_params["id"], notice=notice)


@require_user
async def order_action(request: Request) -> Response:
    await check_csrf(request, await request.form())
    order_id, action = request.path_params["id"], request.path_params["action"]
    if action not in ("fulfil", "cancel"):
        raise not_found(f"action: no order action {action!r}")
    actor = await current_user(request) or ""
    rt = runtime(request)
    # as POST /api/v1/orders/{id}/fulfill and /cancel do it, as the manager
    done = await (orders.fulfil if action == "fulfil" else orders.cancel)(rt, order_id, actor)
    if isinstance(done, Failure):
        problem = refused(done)
        if problem.status == 404:
            raise problem
        return await _order_page(request, order_id, error=problem.message, status=problem.status)
    # after a POST, a GET: reloading the page does not post again
    return RedirectResponse(f"/orders/{order_id}?done={action}", status_code=303)


routes = [
    Route("/orders", orders_page, methods=["GET"]),
    Route("/orders/{id:str}", order_page, methods=["GET"]),
    Route("/orders/{id:str}/{action:str}", order_action, methods=["POST"]),
]
