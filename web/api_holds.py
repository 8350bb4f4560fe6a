"""Holds: make one (units reserved until released, converted into an order or expired), read it,
release it. Converting is POST /api/v1/orders with `hold_id` (web/api_orders.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from inventory.commands import Failure
from inventory.holds import MAX_TTL_S, MIN_TTL_S
from service import holds
from service.runtime import Runtime
from store.holds import StoredHold
from store.queries import iso
from web.http import actor_of, json_body, runtime
from web.problems import invalid, refused
from web.responses import JSONResponse
from web.validation import integer, items, text

MAX_LINES = 100


def hold_view(rt: Runtime, hold: StoredHold) -> dict[str, Any]:
    skus = rt.catalog.skus
    return {
        "id": hold.id, "status": str(hold.status), "channel": hold.channel,
        "created_at": iso(hold.created_at), "expires_at": iso(hold.expires_at),
        "closed_at": None if hold.closed_at is None else iso(hold.closed_at),
        "order_id": hold.order_id,
        "lines": [{"sku": skus[variant_id], "quantity": quantity} for variant_id, quantity in hold.lines],
    }


async def request_lines(rt: Runtime, data: dict[str, Any]) -> list[tuple[int, int]]:
    """`lines` of an order or a hold as (variant id, quantity), each field checked and named."""
    lines = []
    for index, line in enumerate(items(data, "lines", max_items=MAX_LINES)):
        field = f"lines[{index}]"
        sku = text(line, "sku", max_length=100, label=f"{field}.sku")
        quantity = integer(line, "quantity", minimum=1, label=f"{field}.quantity")
        variant_id = await rt.catalog.variant_id(sku)
        if variant_id is None:
            raise invalid(f"{field}.sku", f"unknown sku {sku!r}")
        lines.append((variant_id, quantity))
    return lines


async def make_hold(request: Request) -> JSONResponse:
    rt = runtime(request)
    data = await json_body(request)
    channel_name = text(data, "channel", max_length=64)
    channel = rt.channel(channel_name)
    if channel is None:
        known = ", ".join(rt.settings.channels)
        raise invalid("channel", f"unknown channel {channel_name!r} (known: {known})")
    lines = await request_lines(rt, data)
    ttl_s = integer(data, "ttl_s", minimum=MIN_TTL_S, maximum=MAX_TTL_S)
    hold = await holds.create(rt, channel, lines, ttl_s, actor_of(request))
    if isinstance(hold, Failure):
        raise refused(hold)
    return JSONResponse(hold_view(rt, hold), status_code=201)


async def get_hold(request: Request) -> JSONResponse:
    rt = runtime(request)
    return _answer(rt, await holds.get(rt, request.path_params["id"]))


async def release_hold(request: Request) -> JSONResponse:
    rt = runtime(request)
    return _answer(rt, await holds.release(rt, request.path_params["id"], actor_of(request)))


def _answer(rt: Runtime, hold: StoredHold | Failure) -> JSONResponse:
    if isinstance(hold, Failure):
        raise refused(hold)
    return JSONResponse(hold_view(rt, hold))


routes = [
    Route("/api/v1/holds", make_hold, methods=["POST"]),
    Route("/api/v1/holds/{id}", get_hold, methods=["GET"]),
    Route("/api/v1/holds/{id}/release", release_hold, methods=["POST"]),
]
