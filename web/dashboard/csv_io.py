"""/bulk: CSV export of the catalog and of stock; CSV import of the catalog and of a stock-take.
An upload is checked whole first; the good rows are then applied as a job whose progress the page
polls, and every refused row is listed (row, column, reason) and downloadable."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from store.catalog_bulk import all_skus, catalog_export, stock_export
from web.body_limit import CSV_FILE
from web.csv_text import csv_text
from web.dashboard.bulk_apply import apply_catalog, apply_stocktake
from web.dashboard.csv_rows import (
    CATALOG_COLUMNS,
    BadFile,
    catalog_rows,
    decode,
    rejected_csv,
    stocktake_rows,
)
from web.dashboard.jobs import Job, Jobs
from web.dashboard.kit_csv import apply_kits, kit_rows
from web.dashboard.session import check_csrf, current_user, render, require_user
from web.http import app_state, runtime

MAX_UPLOAD = CSV_FILE
KINDS = ("stocktake", "catalog", "kits")


def jobs_of(request: Request) -> Jobs:
    return app_state(request, "bulk_jobs", Jobs)


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    return Response(csv_text(header, rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@require_user
async def bulk_page(request: Request) -> Response:
    return render(request, "bulk.html", {"jobs": jobs_of(request).recent(), "error": "", "kind": ""})


@require_user
async def export_catalog(request: Request) -> Response:
    return csv_response("catalog.csv", CATALOG_COLUMNS, await catalog_export(runtime(request).read_engine))


@require_user
async def export_stock(request: Request) -> Response:
    header = ("sku", "location", "on_hand", "reserved", "available")
    return csv_response("stock.csv", header, await stock_export(runtime(request).read_engine))


async def _upload(request: Request) -> tuple[str, str]:
    """(file name, text) of the form's `file`, after the CSRF check."""
    form = await request.form(max_files=1, max_fields=10)
    await check_csrf(request, form)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise BadFile("file: choose a CSV file to upload")
    raw = await upload.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise BadFile(f"file: at most {MAX_UPLOAD // (1024 * 1024)} MB; split it")
    return upload.filename[:200], decode(raw)


@require_user
async def upload(request: Request) -> Response:
    kind = request.path_params["kind"]
    if kind not in KINDS:
        context = {"status": 404, "message": f"no upload kind {kind!r}"}
        return render(request, "error.html", context, status=404)
    rt = runtime(request)
    actor = await current_user(request) or ""
    try:
        filename, text = await _upload(request)
        if kind == "stocktake":
            skus = await all_skus(rt.read_engine)
            kits = await rt.catalog.kits_among(skus.values())  # a kit's stock is its components'
            skus = {sku: variant_id for sku, variant_id in skus.items() if variant_id not in kits}
            counts, rejected = stocktake_rows(text, skus, {loc.code for loc in rt.catalog.locations()})
            job = jobs_of(request).start(Job(kind, filename, actor, len(counts), rejected),
                                         lambda job: apply_stocktake(rt, job, counts, skus))
        elif kind == "kits":
            parts, rejected = kit_rows(text)
            job = jobs_of(request).start(Job(kind, filename, actor, len(parts), rejected),
                                         lambda job: apply_kits(rt, job, parts))
        else:
            products, rejected = catalog_rows(text)
            job = jobs_of(request).start(Job(kind, filename, actor, len(products), rejected),
                                         lambda job: apply_catalog(rt, job, products))
    except BadFile as exc:
        context = {"jobs": jobs_of(request).recent(), "error": str(exc), "kind": kind}
        block = f"{kind}_form" if request.headers.get("hx-request") else None
        return render(request, "bulk.html", context, status=422, block=block)
    if request.headers.get("hx-request"):
        return render(request, "bulk.html", {"job": job, "kind": kind, "error": ""}, block=f"{kind}_form")
    return RedirectResponse(f"/bulk/jobs/{job.id}", status_code=303)


@require_user
async def job_status(request: Request) -> Response:
    job = jobs_of(request).get(request.path_params["id"])
    if job is None:
        return render(request, "error.html", {"status": 404, "message": "job: no such upload (the web "
                                              "process keeps the last few)"}, status=404)
    block = "job" if request.headers.get("hx-request") else None
    return render(request, "bulk_job.html", {"job": job}, block=block)


@require_user
async def job_rejected(request: Request) -> Response:
    job = jobs_of(request).get(request.path_params["id"])
    if job is None:
        return Response("no such upload", status_code=404)
    return Response(rejected_csv(job.sorted_rejected()), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="rejected-{job.id}.csv"'})


routes = [
    Route("/bulk", bulk_page, methods=["GET"]),
    Route("/bulk/catalog.csv", export_catalog, methods=["GET"]),
    Route("/bulk/stock.csv", export_stock, methods=["GET"]),
    Route("/bulk/{kind:str}", upload, methods=["POST"]),
    Route("/bulk/jobs/{id:str}", job_status, methods=["GET"]),
    Route("/bulk/jobs/{id:str}/rejected.csv", job_rejected, methods=["GET"]),
]
