"""Stock: receipts, adjustments, transfers, a variant's stock, the ledger and its check."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from inventory.commands import Failure, VariantStock
from service import kits, stock
from service.runtime import Runtime
from store import idempotency, queries
from store.check import check_ledger
from web import stock_input
from web.http import actor_of, json_body, runtime
from web.problems import ApiError, not_found, refused
from web.responses import JSONResponse
from web.validation import query_limit
from web.views import kit_stock_view, stock_view

MAX_IDEMPOTENCY_KEY = 90

class _Key:
    """An Idempotency-Key scoped to its caller and route: the same key from another caller or on
    another route is another key; reused with another body it is refused (422), not replayed."""

    def __init__(self, request: Request, data: dict[str, Any]):
        key = request.headers.get("idempotency-key")
        if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
            raise ApiError(400, "invalid_header",
                           f"Idempotency-Key: must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
        self.scope = self.body_hash = ""
        if key:
            self.scope = _sha256("\0".join((actor_of(request), request.url.path, key)))
            self.body_hash = _sha256(json.dumps(data, sort_keys=True, separators=(",", ":")))
        self.command_id = f"api:{self.scope}" if key else f"api-{uuid.uuid4()}"

    async def claim(self, rt: Runtime) -> None:
        """Called once the body is known good: a body refused as invalid does not use up the key."""
        if self.scope and not await idempotency.claim(rt.engine, self.scope, self.body_hash):
            raise ApiError(422, "idempotency_key_reused",
                           "Idempotency-Key: already used on this route with another body; "
                           "send the same body to replay the first answer, or use a new key")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _answer(rt: Runtime, result: VariantStock | Failure) -> JSONResponse:
    if isinstance(result, Failure):
        raise refused(result)
    return JSONResponse(stock_view(rt.catalog, rt.catalog.sku(result.variant_id), result), status_code=201)


async def receive(request: Request) -> JSONResponse:
    rt, data, key = await _command_parts(request)
    command = await stock_input.receipt(rt, data, key.command_id)
    await key.claim(rt)
    return _answer(rt, await stock.receive(rt, command, actor_of(request)))


async def adjust(request: Request) -> JSONResponse:
    rt, data, key = await _command_parts(request)
    command = await stock_input.adjustment(rt, data, key.command_id)
    await key.claim(rt)
    return _answer(rt, await stock.adjust(rt, command, actor_of(request)))


async def transfer(request: Request) -> JSONResponse:
    rt, data, key = await _command_parts(request)
    command = await stock_input.transfer(rt, data, key.command_id)
    await key.claim(rt)
    return _answer(rt, await stock.transfer(rt, command, actor_of(request)))


async def _command_parts(request: Request) -> tuple[Runtime, dict[str, Any], _Key]:
    rt = runtime(request)
    data = await json_body(request)
    return rt, data, _Key(request, data)


async def variant_stock(request: Request) -> JSONResponse:
    rt = runtime(request)
    sku = request.path_params["sku"]
    variant_id = await rt.catalog.variant_id(sku)
    if variant_id is None:
        raise not_found(f"sku: no variant {sku!r}")
    kit = (await rt.catalog.kits_among([variant_id])).get(variant_id)
    if kit is not None:
        return JSONResponse(kit_stock_view(rt.catalog, sku, await kits.stock(rt, kit)))
    stock = await queries.variant_stock(rt.read_engine, variant_id)
    return JSONResponse(stock_view(rt.catalog, sku, stock))


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
