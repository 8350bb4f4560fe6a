"""/controls: a variant's stock and the manual changes to it (adjust, receive, transfer, reorder
point). Each form posts with its CSRF token; htmx swaps the form's own block back, with a notice or
with its errors by field (4xx); without htmx the whole page comes back the same way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inventory.commands import ADJUST_REASONS
from service.runtime import Runtime
from store import queries
from web.dashboard import stock_actions
from web.dashboard.forms import FormState, form_values, new_command_id
from web.dashboard.session import check_csrf, current_user, render, require_user
from web.dashboard.stock_rows import StockFilters, grid_rows
from web.http import runtime
from web.problems import ApiError

HISTORY = 15  # ledger entries shown under the forms
Action = Callable[[Runtime, Mapping[str, str], str], Awaitable[dict[str, Any]]]
FIELDS = {
    "adjust": ("sku", "location", "mode", "quantity", "reason", "note", "command_id"),
    "receive": ("sku", "location", "quantity", "reference", "command_id"),
    "transfer": ("sku", "from_location", "to_location", "quantity", "reference", "command_id"),
    "reorder": ("sku", "reorder_point"),
}
ACTIONS: dict[str, tuple[Action, str]] = {
    "adjust": (stock_actions.adjust, "Adjusted"),
    "receive": (stock_actions.receive, "Received"),
    "transfer": (stock_actions.transfer, "Transferred"),
}


def blank_forms(sku: str) -> dict[str, FormState]:
    return {name: FormState(values={"sku": sku, "command_id": new_command_id()}) for name in FIELDS}


async def _page(request: Request, sku: str, forms: dict[str, FormState], block: str | None = None,
                status: int = 200, headers: dict[str, str] | None = None) -> Response:
    rt = runtime(request)
    rows = await grid_rows(rt.read_engine, StockFilters(sku=sku)) if sku else []
    codes = [location.code for location in rt.catalog.locations()]
    history: list[dict[str, object]] = []
    if rows:
        point = rows[0].info.reorder_point
        forms["reorder"].values.setdefault("reorder_point", "" if point is None else str(point))
        forms["transfer"].values.setdefault("to_location", codes[1] if len(codes) > 1 else "")
        history = await queries.ledger_entries(rt.read_engine, rows[0].info.variant_id, None, HISTORY)
    context = {"sku": sku, "row": rows[0] if rows else None, "location_codes": codes,
               "reasons": ADJUST_REASONS, "forms": forms, "history": history}
    return render(request, "controls.html", context, status=status, block=block, headers=headers)


@require_user
async def controls_page(request: Request) -> Response:
    sku = request.query_params.get("sku", "").strip()[:100]
    block = "history" if request.headers.get("hx-target") == "history" else None
    return await _page(request, sku, blank_forms(sku), block=block)


@require_user
async def submit(request: Request) -> Response:
    action = request.path_params["action"]
    if action not in FIELDS:
        return await _page(request, "", blank_forms(""), status=404)
    form = await request.form()
    await check_csrf(request, form)
    rt = runtime(request)
    user = await current_user(request) or ""
    values = form_values(form, FIELDS[action])
    state = FormState(values=values)
    try:
        state.notice = await _do(rt, action, values, user)
        state.values = {"sku": values["sku"], "command_id": new_command_id()}  # a fresh form for the next one
    except ApiError as exc:
        state.fail(exc, {"delta": "quantity", "count": "quantity"})
    forms = {**blank_forms(values["sku"]), action: state}
    block = f"{action}_form" if request.headers.get("hx-request") else None
    changed = {"HX-Trigger": "stock-changed"} if not state.errors else None
    return await _page(request, values["sku"], forms, block=block, status=state.status, headers=changed)


async def _do(rt: Runtime, action: str, values: Mapping[str, str], user: str) -> str:
    if action == "reorder":
        point = await stock_actions.set_reorder_point(rt, values, user)
        return f"Reorder point of {values['sku']} is now {'not set' if point is None else point}."
    act, done = ACTIONS[action]
    stock = await act(rt, values, user)
    return f"{done}: {stock['sku']} now has {stock['available']} available ({stock['on_hand']} on hand)."


routes = [
    Route("/controls", controls_page, methods=["GET"]),
    Route("/controls/{action}", submit, methods=["POST"]),
]
