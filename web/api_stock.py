"""Stock: receipts, adjustments, transfers, a variant's stock, the ledger and its check."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.routing import Route

from inventory.commands import ADJUST_REASONS, Adjust, Failure, Receive, StockCommand, Transfer, VariantStock
from service.runtime import Runtime
from store import queries
from store.check import check_ledger
from web.http import actor_of, json_body, refused, runtime, stock_answer
from web.lookups import location_of, variant_of
from web.problems import ApiError, invalid, not_found
from web.responses import JSONResponse
from web.validation import choice, integer, optional_text, query_limit


def _command_id(request: Request) -> str:
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= 90:
        raise ApiError(400, "invalid_header", "Idempotency-Key: must be 1 to 90 characters")
    return f"api:{key}" if key else f"api-{uuid.uuid4()}"


async def _apply(rt: Runtime, command: StockCommand) -> JSONResponse:
    result = await rt.desk.stock_command(command)
    if isinstance(result, Failure):
        raise refused(result)
    if not isinstance(result, VariantStock):
        raise TypeError(f"a stock command was answered with {result!r}")
    return JSONResponse(stock_answer(rt.catalog, rt.catalog.sku(command.variant_id), result), status_code=201)


async def receive(request: Request) -> JSONResponse:
    rt = runtime(request)
    data = await json_body(request)
    command = Receive(
        command_id=_command_id(request),
        variant_id=await variant_of(rt, data),
        location_id=await location_of(rt, data, "location"),
        quantity=integer(data, "quantity", minimum=1),
        reference=optional_text(data, "reference", max_length=200),
        actor=actor_of(request),
    )
    return await _apply(rt, command)


async def adjust(request: Request) -> JSONResponse:
    rt = runtime(request)
    data = await json_body(request)
    variant_id = await variant_of(rt, data)
    location_id = await location_of(rt, data, "location")
    if ("delta" in data) == ("count" in data):
        raise invalid("delta", "give either delta or count, not both and not neither")
    delta = count = None
    if "delta" in data:
        delta = integer(data, "delta")
        if delta == 0:
            raise invalid("delta", "must not be 0")
    else:
        count = integer(data, "count", minimum=0)
    command = Adjust(
        command_id=_command_id(request),
        variant_id=variant_id,
        location_id=location_id,
        reason=choice(data, "reason", ADJUST_REASONS),
        delta=delta,
        counted=count,
        note=optional_text(data, "note"),
        actor=actor_of(request),
    )
    return await _apply(rt, command)


async def transfer(request: Request) -> JSONResponse:
    rt = runtime(request)
    data = await json_body(request)
    variant_id = await variant_of(rt, data)
    source = await location_of(rt, data, "from_location")
    target = await location_of(rt, data, "to_location")
    if source == target:
        raise invalid("to_location", "must differ from from_location")
    command = Transfer(
        command_id=_command_id(request),
        variant_id=variant_id,
        from_location_id=source,
        to_location_id=target,
        quantity=integer(data, "quantity", minimum=1),
        reference=optional_text(data, "reference", max_length=200),
        actor=actor_of(request),
    )
    return await _apply(rt, command)


async def variant_stock(request: Request) -> JSONResponse:
    rt = runtime(request)
    sku = request.path_params["sku"]
    variant_id = await rt.catalog.variant_id(sku)
    if variant_id is None:
        raise not_found(f"sku: no variant {sku!r}")
    stock = await queries.variant_stock(rt.read_engine, variant_id)
    return JSONResponse(stock_answer(rt.catalog, sku, stock))


async def ledger(request: Request) -> JSONResponse:
    rt = runtime(request)
    params = request.query_params
    variant_id = location_id = None
    if params.get("sku"):
        variant_id = await rt.catalog.variant_id(params["sku"])
        if variant_id is None:
            raise not_found(f"sku: no variant {params['sku']!r}")
    if params.get("location"):
        location = await rt.catalog.location(params["location"])
        if location is None:
            raise not_found(f"location: no location {params['location']!r}")
        location_id = location.id
    limit = query_limit(params.get("limit"), 100, 1000)
    return JSONResponse(await queries.ledger_entries(rt.read_engine, variant_id, location_id, limit))


async def ledger_check(request: Request) -> JSONResponse:
    rt = runtime(request)
    mismatches = await check_ledger(rt.read_engine)
    return JSONResponse({
        "ok": not mismatches,
        "mismatches": [
            {"sku": rt.catalog.sku(m.variant_id), "location": rt.catalog.location_code(m.location_id),
             "what": m.what, "stock_row": m.stock_row, "expected": m.expected}
            for m in mismatches
        ],
    })


routes = [
    Route("/api/v1/stock/receipts", receive, methods=["POST"]),
    Route("/api/v1/stock/adjustments", adjust, methods=["POST"]),
    Route("/api/v1/stock/transfers", transfer, methods=["POST"]),
    Route("/api/v1/variants/{sku}/stock", variant_stock, methods=["GET"]),
    Route("/api/v1/ledger", ledger, methods=["GET"]),
    Route("/api/v1/ledger/check", ledger_check, methods=["GET"]),
]
