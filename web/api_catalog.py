"""Locations and products."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from inventory.events import CatalogChanged
from inventory.gtin import gtin_problem
from store import queries
from store.catalog import Conflict, NewVariant
from web.http import json_body, runtime
from web.problems import invalid, not_found, taken
from web.responses import JSONResponse
from web.validation import CODE, choice, integer, items, text


async def create_location(request: Request) -> JSONResponse:
    rt = runtime(request)
    data = await json_body(request)
    code = text(data, "code", max_length=64, pattern=CODE)
    name = text(data, "name")
    kind = choice(data, "kind", ("warehouse", "store"))
    priority = integer(data, "priority", minimum=0, required=False, default=100)
    try:
        location = await rt.catalog.add_location(code, name, kind, priority)
    except Conflict as exc:
        raise taken(str(exc)) from None
    # partners' connectors read the catalog again: the new location may serve their channel
    await rt.events.publish(CatalogChanged(()))
    return JSONResponse(
        {"code": location.code, "name": location.name, "kind": location.kind,
         "priority": location.priority},
        status_code=201,
    )


async def list_locations(request: Request) -> JSONResponse:
    return JSONResponse(await queries.all_locations(runtime(request).read_engine))


async def create_product(request: Request) -> JSONResponse:
    rt = runtime(request)
    data = await json_body(request)
    sku = text(data, "sku", max_length=100, pattern=CODE)
    name = text(data, "name")
    description = text(data, "description", required=False, max_length=5000)
    new_variants = []
    seen: set[str] = set()
    for index, entry in enumerate(items(data, "variants")):
        field = f"variants[{index}]"
        variant_sku = text(entry, "sku", max_length=100, pattern=CODE, label=f"{field}.sku")
        if variant_sku in seen:
            raise invalid(f"{field}.sku", f"{variant_sku!r} appears twice")
        seen.add(variant_sku)
        size, color, material = (
            text(entry, f, required=False, max_length=40, label=f"{field}.{f}")
            for f in ("size", "color", "material")
        )
        gtin = text(entry, "gtin", required=False, max_length=13, label=f"{field}.gtin") or None
        if gtin is not None and (problem := gtin_problem(gtin)):
            raise invalid(f"{field}.gtin", problem)
        new_variants.append(NewVariant(variant_sku, size, color, material, gtin))
    try:
        await rt.catalog.add_product(sku, name, description, new_variants)
    except Conflict as exc:
        raise taken(str(exc)) from None
    # partners' connectors read the catalog again: the new location may serve their channel
    await rt.events.publish(CatalogChanged(()))
    return JSONResponse(await queries.product(rt.read_engine, sku), status_code=201)


async def get_product(request: Request) -> JSONResponse:
    sku = request.path_params["sku"]
    found = await queries.product(runtime(request).read_engine, sku)
    if found is None:
        raise not_found(f"sku: no product {sku!r}")
    return JSONResponse(found)


routes = [
    Route("/api/v1/locations", create_location, methods=["POST"]),
    Route("/api/v1/locations", list_locations, methods=["GET"]),
    Route("/api/v1/products", create_product, methods=["POST"]),
    Route("/api/v1/products/{sku}", get_product, methods=["GET"]),
]
