"""GET /partners: each partner's sync health, from the store (last good sync, lag, error rate, the
listings showing a wrong quantity) and from its connector actor (circuit, rate-limit use), refreshed
live; POST /partners/{id}/retry and /reconcile act on the connector."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.runtime import Runtime
from store.audit import record
from store.dead_letters import open_letters
from store.listings import all_partners
from store.partner_reports import Drift, PartnerHealth, drifting_listings, partner_health
from web.dashboard.session import check_csrf, current_user, render, require_user
from web.http import runtime

log = logging.getLogger(__name__)
LIVE_WAIT = 3.0  # seconds: a connector that does not answer by then is shown as unavailable
ACTION_WAIT = 30.0  # seconds: a reconciliation reads every listing at the partner's rate
DRIFT_SHOWN = 20


@dataclass(frozen=True, slots=True)
class PartnerView:
    """One partner as the page shows it: the store's figures, and the actor's when it answered."""

    health: PartnerHealth
    live: dict[str, Any] | None
    drift: list[Drift]
    now: float

    @property
    def lag(self) -> float | None:
        return self.health.lag(self.now)

    @property
    def rate_limit_use(self) -> list[tuple[str, int]]:
        use = (self.live or {}).get("rate_limit_use") or {}
        return [(op, round(100 * float(share))) for op, share in sorted(use.items())]

    @property
    def status(self) -> str:
        return str((self.live or {}).get("status") or self.health.status)

    def ago(self, timestamp: float | None) -> str:
        return "never" if timestamp is None else duration(self.now - timestamp)

    @property
    def buffer(self) -> tuple[str, list[str]] | None:
        """The buffer and its reasoning: a summary, and one line per listing an auto buffer holds
        above its floor; None when the connector did not answer."""
        found = (self.live or {}).get("buffer")
        return None if not found else buffer_reasoning(found)


def buffer_reasoning(buffer: dict[str, Any]) -> tuple[str, list[str]]:
    if buffer.get("mode") != "auto":
        units = buffer.get("units", 0)
        return f"fixed: {units} unit{'' if units == 1 else 's'} kept back from every listing", []
    lag = f"{buffer['lag_s']:.2f} s"
    measured = "" if buffer["lag_measured"] else " (assumed until a push is measured)"
    if buffer.get("order_delay_s"):
        measured += (f" (pushes {buffer['push_lag_s']:.2f} s + orders polled, up to "
                     f"{buffer['order_delay_s']:.2f} s)")
    above = buffer["listings_above_floor"]
    summary = (f"auto, per listing: floor {buffer['floor']}, ceiling {buffer['ceiling']}; sync lag {lag}"
               f"{measured}; stock goes at {buffer['channel_rate_per_s']:.2f} units/s; "
               f"{above} listing{'' if above == 1 else 's'} above the floor")
    confidence = round(100 * float(buffer["confidence"]))
    lines = [f"{h['sku']}: shown as 0 from {h['units']} left = what goes within {lag} in {confidence}% of "
             f"cases at {h['rate_per_s']:.2f} units/s ({h['expected']:.2f} expected)"
             for h in buffer["hottest"]]
    return summary, lines


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


async def live_status(rt: Runtime) -> dict[str, dict[str, Any]] | None:
    """The connector actors' status by partner id; None when they cannot say (not running yet)."""
    ask = getattr(rt, "partner_status", None)
    if ask is None:
        return None
    try:
        found = await asyncio.wait_for(ask(), LIVE_WAIT)
    except Exception as exc:  # the page still shows what the store knows
        log.warning("partner status unavailable: %s", exc)
        return None
    return {str(status.get("id")): status for status in found}


async def partner_views(rt: Runtime) -> tuple[list[PartnerView], bool]:
    health, drift, live = await asyncio.gather(
        partner_health(rt.read_engine), drifting_listings(rt.read_engine, DRIFT_SHOWN), live_status(rt))
    now = time.time()
    views = [PartnerView(h, (live or {}).get(h.partner_id), drift.get(h.partner_id, []), now) for h in health]
    return views, live is not None


async def page(request: Request, notice: str = "", error: str = "", status: int = 200) -> Response:
    target = request.headers.get("hx-target") if request.headers.get("hx-request") else None
    block = {"partner-list": "partner_list", "partner-notice": "notice"}.get(target or "")
    context: dict[str, Any] = {"notice": notice, "error": error, "duration": duration}
    if block != "notice":
        context["partners"], context["live"] = await partner_views(runtime(request))
        context["letters"] = await open_letters(runtime(request).read_engine)
    # after an action the list shows its effect at once, not at the next refresh
    headers = {"HX-Trigger": "partners-changed"} if notice else {}
    return render(request, "partners.html", context, status=status, block=block, headers=headers)


@require_user
async def partners_page(request: Request) -> Response:
    return await page(request)


async def _act(request: Request, action: str) -> Response:
    await check_csrf(request, await request.form())
    rt = runtime(request)
    partner_id = request.path_params["partner_id"]
    if partner_id not in {p["id"] for p in await all_partners(rt.read_engine)}:
        return await page(request, error=f"partner: no partner {partner_id!r}", status=404)
    call = getattr(rt, f"{action}_partner", None)
    if call is None:
        return await page(request, error="the partner connectors are not running; try again shortly",
                          status=503)
    user = await current_user(request) or ""
    if action == "reconcile":
        return await _reconcile(request, rt, partner_id, user)
    try:
        await asyncio.wait_for(call(partner_id), ACTION_WAIT)
    except LookupError:
        return await page(request, error=f"partner: {partner_id!r} has no running connector", status=404)
    except Exception as exc:
        log.warning("%s of partner %s failed: %s", action, partner_id, exc)
        return await page(request, error=f"{action} of {partner_id} failed: {exc}", status=502)
    await record(rt.engine, user, f"partner.{action}", partner_id)
    return await page(request, notice=f"{partner_id}: retrying now (circuit closed, backoff cleared, "
                                      "waiting pushes sent)")


async def _reconcile(request: Request, rt: Runtime, partner_id: str, user: str) -> Response:
    """The same job the API starts (or the partner's running one); its result is shown when it ends
    within ACTION_WAIT, else the page says it is still running (the job records its end in the audit
    trail and the partner's sync log either way)."""
    try:
        rt.partners.actor(partner_id)
    except LookupError:
        return await page(request, error=f"partner: {partner_id!r} has no running connector", status=404)
    job, _ = rt.reconcile_jobs.start(partner_id, user)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(job.finished.wait()), ACTION_WAIT)
    if job.status == "failed":
        return await page(request, error=f"reconcile of {partner_id} failed: {job.error}", status=502)
    if job.status == "running":
        return await page(request, notice=f"{partner_id}: reconciling (job {job.id}); the result will be "
                                          "in its sync log")
    result = job.result or {}
    return await page(request, notice=f"{partner_id}: reconciled, {result.get('checked', 0)} listings "
                                      f"checked, {result.get('corrected', 0)} corrected")


@require_user
async def retry(request: Request) -> Response:
    return await _act(request, "retry")


@require_user
async def reconcile(request: Request) -> Response:
    return await _act(request, "reconcile")


routes = [
    Route("/partners", partners_page, methods=["GET"]),
    Route("/partners/{partner_id}/retry", retry, methods=["POST"]),
    Route("/partners/{partner_id}/reconcile", reconcile, methods=["POST"]),
]
