"""Alerts over REST: what the dashboard shows, for scripts and tests (acknowledging is the dashboard's);
and the notifications sent of them (every attempt, by e-mail or SMS)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from store.alerts import open_alerts, recent_alerts
from store.notifications import recent_attempts
from store.queries import iso
from web.http import runtime
from web.problems import ApiError
from web.responses import JSONResponse
from web.validation import query_limit

ALL_FLAGS = ["0", "1", "true", "false"]  # all=1 or all=true: acknowledged alerts too


async def list_alerts(request: Request) -> JSONResponse:
    params = request.query_params
    limit = query_limit(params.get("limit"), 100, 1000)
    flag = params.get("all", "0")
    if flag not in ALL_FLAGS:
        raise ApiError(400, "invalid_query", f"all: must be one of {', '.join(ALL_FLAGS)}, not {flag[:20]!r}")
    engine = runtime(request).read_engine
    found = await (recent_alerts(engine, limit) if flag in ("1", "true") else
                   open_alerts(engine, limit))
    return JSONResponse([{
        "id": a.id, "kind": a.kind, "key": a.key, "message": a.message, "count": a.count,
        "raised_at": iso(a.raised_at), "last_seen_at": iso(a.last_seen_at),
        "acknowledged_at": iso(a.acknowledged_at) if a.acknowledged_at else None,
        "acknowledged_by": a.acknowledged_by,
    } for a in found])


async def list_notifications(request: Request) -> JSONResponse:
    limit = query_limit(request.query_params.get("limit"), 100, 1000)
    found = await recent_attempts(runtime(request).read_engine, limit)
    return JSONResponse([{"at": iso(a.at), "alert_kind": a.alert_kind, "channel": a.channel, "to": a.to,
                          "outcome": a.outcome, "error": a.error} for a in found])


routes = [Route("/api/v1/alerts", list_alerts, methods=["GET"]),
          Route("/api/v1/notifications", list_notifications, methods=["GET"])]
