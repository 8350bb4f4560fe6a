"""Partners: what is configured and how its sync is doing, and for each listing what the partner
should show (desired) and what it was last told (pushed); reconcile and retry on demand."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from connectors.registry import connector_class
from service.partners import UnknownPartner
from service.reconcile_jobs import job_view
from store import listings as store
from store.queries import iso
from web.http import actor_of, runtime
from web.problems import not_found
from web.responses import JSONResponse
from web.validation import query_limit

SYNC_FIELDS = ("circuit", "pending", "oldest_pending_s", "lag_p50_s", "lag_p99_s", "errors_recent",
               "last_error", "rate_limit_use", "pushes", "listings_pushed", "pushes_saved_by_coalescing",
               "desired_changes", "orders_taken", "webhooks", "webhooks_duplicate", "drift_corrected",
               "rate_limited", "buffer", "pid")


async def list_partners(request: Request) -> JSONResponse:
    rt = runtime(request)
    live = rt.partners.last_status
    answer = []
    for row in await store.all_partners(rt.read_engine):
        now = live.get(row["id"], {})
        answer.append({
            "id": row["id"], "kind": row["kind"], "name": row["name"], "base_url": row["base_url"],
            "status": now.get("status", row["status"]),
            "last_sync_at": iso(row["last_sync_at"]) if row["last_sync_at"] else None,
            # "in sync" means the last read of the partner agreed with what it was told
            "in_sync": bool(now.get("in_sync")),
            "last_read_at": iso(now["last_read_at"]) if now.get("last_read_at") else None,
            "last_read_agreed": now.get("last_read_agreed"),
            "capabilities": list(connector_class(row["kind"]).capabilities),
            "policy": row["policy"],
            "sync": {key: now[key] for key in SYNC_FIELDS if key in now},
        })
    return JSONResponse(answer)


async def _known(request: Request) -> str:
    partner_id = request.path_params["id"]
    rt = runtime(request)
    if partner_id not in {row["id"] for row in await store.all_partners(rt.read_engine)}:
        raise not_found(f"id: no partner {partner_id!r}")
    return partner_id


async def partner_listings(request: Request) -> JSONResponse:
    rt = runtime(request)
    partner_id = await _known(request)
    sku = request.query_params.get("sku") or None
    if sku is not None and await rt.catalog.variant_id(sku) is None:
        raise not_found(f"sku: unknown sku {sku!r}")
    rows = await store.load_listings(rt.read_engine, partner_id, sku)
    return JSONResponse([_listing(row) for row in rows])


def _listing(row: store.StoredListing) -> dict[str, Any]:
    return {"sku": row.sku, "desired": row.desired, "pushed": row.pushed,
            "pushed_at": iso(row.pushed_at) if row.pushed_at else None,
            "desired_at": iso(row.desired_at), "last_error": row.last_error or None}


async def reconcile(request: Request) -> JSONResponse:
    """Starts a reconcile job (or finds the partner's running one) and answers at once: 202 with
    the job and where to poll it."""
    partner_id = await _known(request)
    rt = runtime(request)
    try:
        rt.partners.actor(partner_id)
    except UnknownPartner:
        raise not_found(f"id: partner {partner_id!r} is not running") from None
    job, _ = rt.reconcile_jobs.start(partner_id, actor_of(request))
    return JSONResponse({"job": job_view(job, iso)}, status_code=202,
                        headers={"Location": f"/api/v1/jobs/{job.id}"})


async def job(request: Request) -> JSONResponse:
    found = runtime(request).reconcile_jobs.get(request.path_params["id"])
    if found is None:
        raise not_found(f"id: no job {request.path_params['id']!r} (jobs live in the web process's "
                        "memory: a restart forgets them)")
    return JSONResponse({"job": job_view(found, iso)})


async def retry(request: Request) -> JSONResponse:
    partner_id = await _known(request)
    try:
        await runtime(request).partners.retry(partner_id)
    except UnknownPartner:
        raise not_found(f"id: partner {partner_id!r} is not running") from None
    return JSONResponse({"status": "retrying"}, status_code=202)


async def sync_log(request: Request) -> JSONResponse:
    partner_id = await _known(request)
    limit = query_limit(request.query_params.get("limit"), 50, 500)
    rows = await store.sync_log(runtime(request).read_engine, partner_id, limit)
    return JSONResponse([{**row, "at": iso(row["at"])} for row in rows])


routes = [
    Route("/api/v1/partners", list_partners, methods=["GET"]),
    Route("/api/v1/partners/{id}/listings", partner_listings, methods=["GET"]),
    Route("/api/v1/partners/{id}/reconcile", reconcile, methods=["POST"]),
    Route("/api/v1/partners/{id}/retry", retry, methods=["POST"]),
    Route("/api/v1/partners/{id}/sync-log", sync_log, methods=["GET"]),
    Route("/api/v1/jobs/{id}", job, methods=["GET"]),
]
