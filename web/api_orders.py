"""Orders: place (idempotent on channel + external id; with `hold_id`, from a hold's units), read,
list, fulfil, cancel."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from inventory.commands import Failure
from service import holds, orders
from service.runtime import Runtime
from store import queries
from store.queries import StoredOrder
from web.api_holds import request_lines
from web.http import actor_of, json_body, runtime
from web.problems import invalid, not_found, refused
from web.responses import JSONResponse
from web.validation import CODE, query_limit, text
from web.views import order_view


async def place_order(request: Request) -> JSONResponse:
    rt = runtime(request)
    data = await json_body(request)
    channel_name = text(data, "channel", max_length=64)
    external_id = text(data, "external_id", max_length=200)
    channel = rt.channel(channel_name)
    if channel is None:
        known = ", ".join(rt.settings.channels)
        raise invalid("channel", f"unknown channel {channel_name!r} (known: {known})")
    lines = await request_lines(rt, data)
    if "hold_id" in data:  # the order takes a hold's units (service.holds.convert)
        hold_id = text(data, "hold_id", max_length=40, pattern=CODE)
        outcome = await holds.convert(rt, hold_id, channel, external_id, lines, actor_of(request))
    else:
        outcome = await orders.place(rt, channel, external_id, lines, actor_of(request))
    if isinstance(outcome, Failure):
        raise refused(outcome)
    if not outcome.created:  # seen before: the first answer, as the store holds it
        return JSONResponse(await _stored(rt, outcome.order_id), status_code=200)
    return JSONResponse(order_view(rt.catalog, outcome, channel_name, external_id), status_code=201)


async def _stored(rt: Runtime, order_id: str) -> dict[str, Any]:
    found = await queries.order(rt.read_engine, order_id)
    if found is None:
        raise not_found(f"id: no order {order_id!r}")
    return order_view(rt.catalog, found)


async def get_order(request: Request) -> JSONResponse:
    return JSONResponse(await _stored(runtime(request), request.path_params["id"]))


async def list_orders(request: Request) -> JSONResponse:
    params = request.query_params
    limit = query_limit(params.get("limit"), 50, 500)
    rt = runtime(request)
    found = await queries.find_orders(rt.read_engine, params.get("channel") or None,
                                      params.get("external_id") or None, limit)
    return JSONResponse([order_view(rt.catalog, order) for order in found])


async def fulfil_order(request: Request) -> JSONResponse:
    rt = runtime(request)
    done = await orders.fulfil(rt, request.path_params["id"], actor_of(request))
    return await _after(rt, done)


async def cancel_order(request: Request) -> JSONResponse:
    rt = runtime(request)
    done = await orders.cancel(rt, request.path_params["id"], actor_of(request))
    return await _after(rt, done)


async def _after(rt: Runtime, done: StoredOrder | Failure) -> JSONResponse:
    """The order as the store now holds it."""
    if isinstance(done, Failure):
        raise refused(done)
    return JSONResponse(await _stored(rt, done.id))


routes = [
    Route("/api/v1/orders", place_order, methods=["POST"]),
    Route("/api/v1/orders", list_orders, methods=["GET"]),
    Route("/api/v1/orders/{id}", get_order, methods=["GET"]),
    Route("/api/v1/orders/{id}/fulfill", fulfil_order, methods=["POST"]),
    Route("/api/v1/orders/{id}/cancel", cancel_order, methods=["POST"]),
]
