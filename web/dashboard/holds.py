"""GET /holds: the holds still held, soonest to expire first, each with its time left; the list
refreshes itself every second (htmx polling), so the countdown runs and expired holds drop off."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inventory.holds import HoldStatus
from store.holds import listing
from web.dashboard.session import render, require_user
from web.http import runtime

SHOWN = 200


def time_left(expires_at: float, now: float) -> str:
    """`1h 02m 03s`, `2m 03s`, `3s`; `0s` once due."""
    seconds = max(0, int(expires_at - now + 0.999))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {seconds:02d}s"
    return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"


@require_user
async def holds_page(request: Request) -> Response:
    rt = runtime(request)
    now = time.time()
    held = await listing(rt.read_engine, [HoldStatus.HELD], SHOWN)
    skus = rt.catalog.skus
    rows = [{"hold": hold, "left": time_left(hold.expires_at, now),
             "seconds": max(0, int(hold.expires_at - now + 0.999)),
             "lines": ", ".join(f"{skus.get(v, v)} x {q}" for v, q in hold.lines)} for hold in held]
    block = "hold_list" if request.headers.get("hx-request") else None
    return render(request, "holds.html", {"rows": rows, "shown": SHOWN}, block=block)


routes = [Route("/holds", holds_page, methods=["GET"])]
