"""GET /alerts: the open alerts (new ones appear live, through "alert" events) and the recently
acknowledged; POST /alerts/{id}/acknowledge records who heard it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from inventory.events import AlertAcknowledged
from service.notify_config import NotifyConfigError, parse_rules, rules_text
from store.alerts import Alert, acknowledge, open_alerts, recent_alerts
from store.audit import record
from store.notifications import recent_attempts, save_rules
from store.schema import alerts
from web.dashboard.session import check_csrf, current_user, render, require_user
from web.http import runtime

SHOWN = 200
ACKNOWLEDGED_SHOWN = 50
NOTIFICATIONS_SHOWN = 50


async def alert_by_id(engine: AsyncEngine, alert_id: int) -> Alert | None:
    async with engine.connect() as conn:
        row = (await conn.execute(select(alerts).where(alerts.c.id == alert_id))).first()
    return None if row is None else Alert(*row)


async def page(request: Request, notice: str = "", error: str = "", status: int = 200,
               draft: str | None = None) -> Response:
    target = request.headers.get("hx-target") if request.headers.get("hx-request") else None
    block = {"alert-list": "alert_list", "alert-notice": "notice"}.get(target or "")
    context = {"notice": notice, "error": error, "shown": SHOWN}
    if block != "notice":
        engine = runtime(request).read_engine
        recent = await recent_alerts(engine, SHOWN + ACKNOWLEDGED_SHOWN)
        heard = [a for a in recent if a.acknowledged_at is not None][:ACKNOWLEDGED_SHOWN]
        notifier = runtime(request).notifier
        context.update(open=await open_alerts(engine, SHOWN), heard=heard,
                       sent=await recent_attempts(engine, NOTIFICATIONS_SHOWN),
                       rules=draft if draft is not None else rules_text(notifier.rules),
                       rules_saved=notifier.rules_saved)
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


@require_user
async def test_message(request: Request) -> Response:
    await check_csrf(request, await request.form())
    rt = runtime(request)
    if not rt.notifier.enabled:
        return await page(request, status=409,
                          error="notifications: neither THREADCOUNT_SMTP_URL nor THREADCOUNT_SMS_URL is set")
    count = await rt.notifier.send_test()
    await record(rt.engine, await current_user(request) or "", "notifications.test", "", recipients=count)
    if not count:
        return await page(request, error="notifications: no recipient is configured", status=409)
    return await page(request, notice=f"A test message is on its way to {count} recipients.")


@require_user
async def edit_rules(request: Request) -> Response:
    form = await request.form()
    await check_csrf(request, form)
    text = str(form.get("rules", ""))[:20_000]
    try:
        rules = parse_rules(text)
    except NotifyConfigError as exc:
        return await page(request, error=f"notification rules: {exc}", status=400, draft=text)
    rt = runtime(request)
    user = await current_user(request) or ""
    await save_rules(rt.engine, text, user)
    rt.notifier.rules, rt.notifier.rules_saved = rules, True
    await record(rt.engine, user, "notifications.rules", "", rules=len(rules))
    return await page(request, notice=f"Notification rules saved: {len(rules)} rules.")


routes = [
    Route("/alerts", alerts_page, methods=["GET"]),
    Route("/alerts/{alert_id:int}/acknowledge", acknowledge_alert, methods=["POST"]),
    Route("/alerts/test-message", test_message, methods=["POST"]),
    Route("/alerts/notification-rules", edit_rules, methods=["POST"]),
]
