"""/products/new: a product and its variant matrix. Preview the generated SKUs, then create them all
at once through the catalog, as POST /api/v1/products does."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.runtime import Runtime
from store import audit
from store.catalog import Conflict, NewVariant
from web.dashboard.forms import FormState, form_values
from web.dashboard.session import check_csrf, current_user, render, require_user
from web.dashboard.stock_actions import announce_catalog
from web.dashboard.variant_matrix import DIMENSIONS, PlannedVariant, parse_options, plan_variants
from web.http import runtime
from web.problems import ApiError, taken
from web.validation import CODE, text

FIELDS = ("sku", "name", "description", "sizes", "colors", "materials")


def plan(values: dict[str, str]) -> list[PlannedVariant]:
    sku = text(values, "sku", max_length=100, pattern=CODE)
    text(values, "name")
    text(values, "description", required=False, max_length=5000)
    sizes, colors, materials = (parse_options(values[name], name) for name in DIMENSIONS)
    return plan_variants(sku, sizes, colors, materials)


@require_user
async def new_product(request: Request) -> Response:
    return render(request, "product_new.html", {"state": FormState(), "planned": []})


@require_user
async def submit_product(request: Request) -> Response:
    form = await request.form()
    await check_csrf(request, form)
    rt = runtime(request)
    values = form_values(form, FIELDS)
    state, planned = FormState(values=values), []
    try:
        planned = plan(values)
        if form.get("action") == "create":
            await _create(rt, values, planned, await current_user(request) or "")
            state = FormState(notice=f"Created {values['sku']} with {len(planned)} variants.")
            state.values["created"] = values["sku"]
            planned = []
    except ApiError as exc:
        state.fail(exc)
    return render(request, "product_new.html", {"state": state, "planned": planned}, status=state.status)


async def _create(rt: Runtime, values: dict[str, str], planned: list[PlannedVariant], actor: str) -> None:
    new = [NewVariant(v.sku, v.size, v.color, v.material) for v in planned]
    try:
        await rt.catalog.add_product(values["sku"], values["name"], values["description"], new)
    except Conflict as exc:
        raise taken(str(exc)) from None
    await audit.record(rt.engine, actor, "product.create", values["sku"], name=values["name"],
                       variants=[v.sku for v in planned])
    await announce_catalog(rt, [values["sku"]])


routes = [
    Route("/products/new", new_product, methods=["GET"]),
    Route("/products/new", submit_product, methods=["POST"]),
]
