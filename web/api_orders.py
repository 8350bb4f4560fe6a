"""Orders: place (idempotent on channel + external id), read, list, fulfil, cancel."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from inventory.allocation import order_status
from inventory.commands import Failure
from service.runtime import Runtime
from store import queries
from store.queries import StoredOrder
from web.http import actor_of, json_body, order_answer, refused, runtime
from web.problems import ApiError, invalid, not_found
from web.responses import JSONResponse
from web.validation import integer, items, query_limit, text

MAX_LINES = 100


async def place_order(request: Request) -> JSONResponse:
    rt = runtime(request)
    data = await json_body(request)
    channel_name = text(data, "channel", max_length=64)
    external_id = text(data, "external_id", max_length=200)
    channel = rt.channel(channel_name)
    if channel is None:
        known = ", ".join(rt.settings.channels)
        raise invalid("channel", f"unknown channel {channel_name!r} (known: {known})")
    lines = []
    for index, line in enumerate(items(data, "lines", max_items=MAX_LINES)):
        field = f"lines[{index}]"
        sku = text(line, "sku", max_length=100, label=f"{field}.sku")
        quantity = integer(line, "quantity", minimum=1, label=f"{field}.quantity")
        variant_id = await rt.catalog.variant_id(sku)
        if variant_id is None:
            raise invalid(f"{field}.sku", f"unknown sku {sku!r}")
        lines.append((variant_id, quantity))
    outcome = await rt.desk.place_order(channel, external_id, lines, actor_of(request))
    if isinstance(outcome, Failure):
        raise refused(outcome)
    if not outcome.created:  # seen before: the first answer, as the store holds it
        return JSONResponse(await _stored(rt, outcome.order_id), status_code=200)
    return JSONResponse(order_answer(rt.catalog, outcome, channel_name, external_id), status_code=201)


async def _stored(rt: Runtime, order_id: str) -> dict[str, Any]:
    found = await queries.order(rt.read_engine, order_id)
    if found is None:
        raise not_found(f"id: no order {order_id!r}")
    return order_answer(rt.catalog, found)


async def get_order(request: Request) -> JSONResponse:
    return JSONResponse(await _stored(runtime(request), request.path_params["id"]))


async def list_orders(request: Request) -> JSONResponse:
    params = request.query_params
    limit = query_limit(params.get("limit"), 50, 500)
    rt = runtime(request)
    found = await queries.find_orders(rt.read_engine, params.get("channel") or None,
                                      params.get("external_id") or None, limit)
    return JSONResponse([order_answer(rt.catalog, order) for order in found])


async def fulfil_order(request: Request) -> JSONResponse:
    return await _transition(request, "fulfil")


async def cancel_order(request: Request) -> JSONResponse:
    return await _transition(request, "cancel")


async def _transition(request: Request, action: str) -> JSONResponse:
    rt = runtime(request)
    order_id = request.path_params["id"]
    await transition(rt, order_id, action, actor_of(request))
    return JSONResponse(await _stored(rt, order_id))


async def transition(rt: Runtime, order_id: str, action: str, actor: str) -> StoredOrder:
    """Fulfil or cancel through the desk, refusing what the order's state forbids; the order as
    it was before. The REST route and the dashboard's buttons both come here."""
    current = await queries.order(rt.read_engine, order_id)
    if current is None:
        raise not_found(f"id: no order {order_id!r}")
    if action == "fulfil" and order_status(current.lines) in ("backordered", "partially_backordered"):
        raise ApiError(409, "order_backordered",
                       f"order {order_id} still has backordered units; wait for stock or cancel it")
    do = rt.desk.fulfil if action == "fulfil" else rt.desk.cancel
    result = await do(order_id, [line.variant_id for line in current.lines], actor)
    if isinstance(result, Failure):
        raise refused(result)
    return current


routes = [
    Route("/api/v1/orders", place_order, methods=["POST"]),
    Route("/api/v1/orders", list_orders, methods=["GET"]),
    Route("/api/v1/orders/{id}", get_order, methods=["GET"]),
    Route("/api/v1/orders/{id}/fulfill", fulfil_order, methods=["POST"]),
    Route("/api/v1/orders/{id}/cancel", cancel_order, methods=["POST"]),
]
