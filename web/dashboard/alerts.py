"""GET /alerts: the open alerts (new ones appear live, through "alert" events) and the recently
acknowledged; POST /alerts/{id}/acknowledge records who heard it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inventory.events import AlertAcknowledged
from store.alerts import Alert, acknowledge, open_alerts, recent_alerts
from store.audit import record
from store.schema import alerts
from web.dashboard.session import check_csrf, current_user, render, require_user
from web.http import runtime

SHOWN = 200
ACKNOWLEDGED_SHOWN = 50


async def alert_by_id(engine: AsyncEngine, alert_id: int) -> Alert | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(alerts).where(alerts.c.id == alert_id))).first()
    return None if row is None else Alert(*row)


async def page(request: Request, notice: str = "", error: str = "", status: int = 200) -> Response:
    target = request.headers.get("hx-target") if request.headers.get("hx-request") else None
    block = {"alert-list": "alert_list", "alert-notice": "notice"}.get(target or "")
    context = {"notice": notice, "error": error, "shown": SHOWN}
    if block != "notice":
        engine = runtime(request).read_engine
        recent = await recent_alerts(engine, SHOWN + ACKNOWLEDGED_SHOWN)
        heard = [a for a in recent if a.acknowledged_at is not None][:ACKNOWLEDGED_SHOWN]
        context.update(open=await open_alerts(engine, SHOWN), heard=heard)
    # the list shows the change at once, without waiting for the event to come round
    headers = {"HX-Trigger": "alerts-changed"} if notice else {}
    return render(request, "alerts.html", context, status=status, block=block, headers=headers)


@require_user
async def alerts_page(request: Request) -> Response:
    return await page(request)


@require_user
async def acknowledge_alert(request: Request) -> Response:
    await check_csrf(request, await request.form())
    rt = runtime(request)
    alert_id: int = request.path_params["alert_id"]
    found = await alert_by_id(rt.engine, alert_id)
    if found is None:
        return await page(request, error=f"alert: no alert {alert_id}", status=404)
    user = await current_user(request) or ""
    if found.acknowledged_at is not None or not await acknowledge(rt.engine, alert_id, user):
        heard = await alert_by_id(rt.engine, alert_id) or found
        return await page(request, error=f"alert {alert_id} was already acknowledged by "
                          f"{heard.acknowledged_by}", status=409)
    await record(rt.engine, user, "alert.acknowledge", f"{found.kind}:{found.key}",
                 alert_id=alert_id)
    heard = await alert_by_id(rt.engine, alert_id) or found
    # after the commit: other managers' pages drop it, and the watcher may raise it anew later
    await rt.events.publish(AlertAcknowledged(heard.id, heard.kind, heard.key, user))
    return await page(request, notice=f"Acknowledged: {found.message}")


routes = [
    Route("/alerts", alerts_page, methods=["GET"]),
    Route("/alerts/{alert_id:int}/acknowledge", acknowledge_alert, methods=["POST"]),
]
