"""Kits: POST /api/v1/kits defines one (a SKU sold as a set of components). Its stock is read with
GET /api/v1/variants/{sku}/stock like any variant's (web/api_stock.py); it is ordered like one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from service import kits
from store.kits import KitInvalid, KitTaken
from web.http import actor_of, json_body, runtime
from web.problems import invalid, taken
from web.responses import JSONResponse
from web.validation import CODE, integer, items, text

MAX_COMPONENTS = 50
MAX_PER_KIT = 1_000


async def create_kit(request: Request) -> JSONResponse:
    rt = runtime(request)
    data = await json_body(request)
    sku = text(data, "sku", max_length=100, pattern=CODE)
    name = text(data, "name")
    components = []
    for index, entry in enumerate(items(data, "components", max_items=MAX_COMPONENTS)):
        field = f"components[{index}]"
        component = text(entry, "sku", max_length=100, label=f"{field}.sku")
        quantity = integer(entry, "quantity", minimum=1, label=f"{field}.quantity")
        if quantity > MAX_PER_KIT:
            raise invalid(f"{field}.quantity", f"must be at most {MAX_PER_KIT}")
        components.append((component, quantity))
    if not components:
        raise invalid("components", "a kit needs at least one component")
    try:
        await kits.create(rt, sku, name, components, actor_of(request))
    except KitInvalid as exc:
        raise invalid(exc.field, str(exc).removeprefix(f"{exc.field}: ")) from None
    except KitTaken as exc:
        raise taken(str(exc)) from None
    return JSONResponse({"sku": sku, "name": name,
                         "components": [{"sku": c, "quantity": q} for c, q in components]},
                        status_code=201)


routes = [Route("/api/v1/kits", create_kit, methods=["POST"])]
