"""Small pieces every API route uses: the runtime, the JSON body, and turning results into answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request

from inventory.allocation import order_status
from inventory.commands import Failure
from inventory.desk import OrderOutcome
from service.runtime import Runtime
from service.views import stock_view
from store.catalog import Catalog
from store.queries import StoredOrder, iso
from web.problems import ApiError
from web.validation import body_object

stock_answer = stock_view  # one renderer for a variant's stock: the API, the dashboard and events share it


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    if not rt.ready:
        raise ApiError(503, "starting", "Threadcount is starting; try again in a moment")
    return rt


MAX_BODY = 1024 * 1024  # bytes; an order of 100 lines is a few kilobytes


async def json_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, "body_too_large", f"body: at most {MAX_BODY} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY:
            raise ApiError(413, "body_too_large", f"body: at most {MAX_BODY} bytes")
    try:
        return body_object(orjson.loads(raw))
    except orjson.JSONDecodeError:
        raise ApiError(400, "malformed_json", "body: not valid JSON") from None


def actor_of(request: Request) -> str:
    return "admin@api"


def refused(failure: Failure) -> ApiError:
    return ApiError(failure.status, failure.code, failure.message)


def order_answer(catalog: Catalog, order: OrderOutcome | StoredOrder, channel: str = "",
                 external_id: str = "") -> dict[str, Any]:
    """An order, whether the shards just answered it or the store was read: one shape for both."""
    skus: Mapping[int, str] = catalog.skus
    if isinstance(order, StoredOrder):
        order_id, channel, external_id, skus = order.id, order.channel, order.external_id, order.skus
    else:
        order_id = order.order_id
    rank = catalog.rank()
    return {
        "id": order_id,
        "channel": channel,
        "external_id": external_id,
        "status": order_status(order.lines),
        "placed_at": iso(order.placed_at),
        "lines": [
            {
                "sku": skus[line.variant_id],
                "quantity": line.quantity,
                "reserved": line.reserved,
                "backordered": line.backordered,
                "state": line.state,
                "allocations": [
                    {"location": catalog.location_code(loc), "quantity": line.allocations[loc]}
                    for loc in sorted(line.allocations, key=lambda loc: rank.get(loc, 0))
                ],
            }
            for line in order.lines
        ],
    }
