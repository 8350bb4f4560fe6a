"""A partner's dead letters over REST: the orders it sent that could not be applied as they stood,
and a retry of one (after, say, its SKU was added to the catalog)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from service.partners import UnknownPartner
from store import dead_letters as letters
from store import listings as store
from store.queries import iso
from web.http import runtime
from web.problems import invalid, not_found, unavailable
from web.responses import JSONResponse
from web.validation import query_limit

STATUSES = ("open", "applied")


async def _partner(request: Request) -> str:
    partner_id = request.path_params["id"]
    if partner_id not in {row["id"] for row in await store.all_partners(runtime(request).read_engine)}:
        raise not_found(f"id: no partner {partner_id!r}")
    return partner_id


def letter_json(letter: letters.DeadLetter) -> dict[str, Any]:
    return {"id": letter.id, "partner_id": letter.partner_id, "order_id": letter.order_id,
            "event_id": letter.event_id, "reason": letter.reason, "status": letter.status,
            "attempts": letter.attempts, "created_at": iso(letter.created_at),
            "updated_at": iso(letter.updated_at), "event": letter.event}


async def list_letters(request: Request) -> JSONResponse:
    status = request.query_params.get("status")  # `status=` is not "any status": refused as unknown
    if status is not None and status not in STATUSES:
        raise invalid("status", f"must be one of {', '.join(STATUSES)}, not {status[:20]!r}")
    limit = query_limit(request.query_params.get("limit"), 100, 1000)
    partner_id = await _partner(request)
    found = await letters.for_partner(runtime(request).read_engine, partner_id, status, limit)
    return JSONResponse([letter_json(letter) for letter in found])


async def retry_letter(request: Request) -> JSONResponse:
    partner_id = await _partner(request)
    raw_id = request.path_params["letter_id"]
    rt = runtime(request)
    if not raw_id.isdigit() or await letters.find(rt.read_engine, partner_id, int(raw_id)) is None:
        raise not_found(f"letter_id: {partner_id} has no dead letter {raw_id!r}")
    try:
        result = await rt.retry_dead_letter(partner_id, int(raw_id))
    except UnknownPartner:
        raise not_found(f"id: partner {partner_id!r} is not running") from None
    except Exception as exc:   # a shard or the actor did not answer: nothing changed, try again
        raise unavailable(f"{partner_id}: the retry could not run now ({type(exc).__name__})") from None
    return JSONResponse(result)


routes = [
    Route("/api/v1/partners/{id}/dead-letters", list_letters, methods=["GET"]),
    Route("/api/v1/partners/{id}/dead-letters/{letter_id}/retry", retry_letter, methods=["POST"]),
]
