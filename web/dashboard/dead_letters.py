"""The partners page's dead letters: each partner's orders that could not be applied as they
stood, with a retry button (CSRF-checked like every dashboard form) for after the cause is fixed."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from store import dead_letters as letters
from store.audit import record
from web.dashboard.partners import page
from web.dashboard.session import check_csrf, current_user, require_user
from web.http import runtime

log = logging.getLogger(__name__)
RETRY_WAIT = 10.0


@require_user
async def retry(request: Request) -> Response:
    await check_csrf(request, await request.form())
    rt = runtime(request)
    partner_id, raw_id = request.path_params["partner_id"], request.path_params["letter_id"]
    found = await letters.find(rt.read_engine, partner_id, int(raw_id)) if raw_id.isdigit() else None
    if found is None:
        return await page(request, error=f"letter: {partner_id} has no dead letter {raw_id!r}", status=404)
    try:
        result = await asyncio.wait_for(rt.retry_dead_letter(partner_id, found.id), RETRY_WAIT)
    except Exception as exc:   # the actor or a shard did not answer: nothing changed
        log.warning("retry of dead letter %s/%s failed: %s", partner_id, found.id, exc)
        return await page(request, error=f"retry of {partner_id} order {found.order_id} could not run now: "
                                         f"{type(exc).__name__}", status=503)
    await record(rt.engine, await current_user(request) or "", "partner.dead_letter.retry",
                 f"{partner_id}:{found.order_id}", **result)
    if result.get("status") == "applied":
        return await page(request, notice=f"{partner_id} order {found.order_id}: applied")
    # the retry ran; its outcome is that the order stays a dead letter, with the reason now
    return await page(request, notice=f"{partner_id} order {found.order_id} still cannot apply: "
                                      f"{result.get('reason')}")


routes = [Route("/partners/{partner_id}/dead-letters/{letter_id}/retry", retry, methods=["POST"])]
