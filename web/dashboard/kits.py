"""/kits/new: define a kit on the dashboard, one component a line (`SKU` or `SKU x quantity`), as
POST /api/v1/kits does; the kits made so far are listed with what they are made of."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service import kits
from store.kits import KitInvalid, KitTaken
from web.dashboard.forms import FormState, form_values
from web.dashboard.session import check_csrf, current_user, render, require_user
from web.http import runtime
from web.problems import ApiError, invalid, taken
from web.validation import CODE, text

FIELDS = ("sku", "name", "components")
LINE = re.compile(r"^(\S+)(?:\s+[xX*]\s*(\d{1,4}))?$")


def components_of(raw: str) -> list[tuple[str, int]]:
    found = []
    for number, line in enumerate((ln.strip() for ln in raw.splitlines() if ln.strip()), start=1):
        match = LINE.match(line)
        if match is None:
            raise invalid("components", f"line {number}: write SKU or SKU x quantity, not {line[:40]!r}")
        quantity = int(match.group(2) or 1)
        if not 1 <= quantity <= 1_000:
            raise invalid("components", f"line {number}: the quantity must be from 1 to 1000")
        found.append((match.group(1), quantity))
    if not found:
        raise invalid("components", "a kit needs at least one component")
    return found


async def _page(request: Request, state: FormState, status: int = 200) -> Response:
    rt = runtime(request)
    skus = rt.catalog.skus
    made = [(skus.get(kit.variant_id, "?"), [(skus.get(c, "?"), q) for c, q in kit.components])
            for kit in rt.catalog.kits.values()]
    return render(request, "kit_new.html", {"state": state, "kits": sorted(made)}, status=status)


@require_user
async def new_kit(request: Request) -> Response:
    return await _page(request, FormState())


@require_user
async def submit_kit(request: Request) -> Response:
    form = await request.form()
    await check_csrf(request, form)
    rt = runtime(request)
    values = form_values(form, FIELDS)
    values["components"] = str(form.get("components") or "")
    state = FormState(values=values)
    try:
        sku = text(values, "sku", max_length=100, pattern=CODE)
        name = text(values, "name")
        try:
            await kits.create(rt, sku, name, components_of(values["components"]),
                              await current_user(request) or "")
        except KitInvalid as exc:
            raise invalid("components", str(exc)) from None
        except KitTaken as exc:
            raise taken(str(exc)) from None
        state = FormState(notice=f"Created kit {sku}.")
    except ApiError as exc:
        state.fail(exc)
    return await _page(request, state, state.status)


routes = [
    Route("/kits/new", new_kit, methods=["GET"]),
    Route("/kits/new", submit_kit, methods=["POST"]),
]
