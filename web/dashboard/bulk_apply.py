"""Applying checked CSV rows: a stock-take's counts through the shards (one command per row, so a row
is applied whole or not at all), a catalog's products, variants and reorder points through the store.
Rows refused while applying join the job's rejected rows with the reason."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from inventory.commands import Adjust, Failure, Result
from service import stock
from service.runtime import Runtime
from store import audit
from store.catalog import Conflict, NewVariant
from store.catalog_bulk import add_variants, existing_variants, product_id
from store.stock_grid import set_reorder_points
from web.dashboard.csv_rows import CatalogRow, CountRow, Rejected
from web.dashboard.jobs import Job
from web.dashboard.stock_actions import announce_catalog, announce_variant


async def apply_stocktake(rt: Runtime, job: Job, rows: list[CountRow], skus: dict[str, int]) -> None:
    locations = {location.code: location.id for location in rt.catalog.locations()}
    # ids fixed by the job and row: a chunk retried after a shard failure applies nothing twice
    counts = [Adjust(f"dash-take:{job.id}:{row.row}", skus[row.sku], locations[row.location], "count",
                     counted=row.count) for row in rows]
    pending = iter(rows)

    def progress(results: Sequence[Result]) -> None:
        for result, row in zip(results, pending, strict=False):  # results first: no row read past them
            if isinstance(result, Failure):
                job.rejected.append(Rejected(row.row, "count", result.message))
            else:
                job.applied += 1
            job.done += 1

    await stock.stock_take(rt, counts, job.actor, job.filename, progress, refused_before=len(job.rejected))


async def apply_catalog(rt: Runtime, job: Job, rows: list[CatalogRow]) -> None:
    known = await existing_variants(rt.read_engine, [row.sku for row in rows])
    by_product: dict[str, list[CatalogRow]] = defaultdict(list)
    for row in rows:
        by_product[row.product_sku].append(row)
    points: dict[int, int | None] = {}
    for product_sku, group in by_product.items():
        good = [row for row in group if _belongs(row, known, job)]
        fresh = [row for row in good if row.sku not in known]
        try:
            if fresh:
                await _add(rt, product_sku, fresh, job)
        except Conflict as exc:
            column = "product_name" if str(exc).startswith("product_name:") else "sku"
            reason = str(exc).removeprefix(f"{column}: ")
            job.rejected.extend(Rejected(row.row, column, reason) for row in fresh)
            good = [row for row in good if row.sku in known]
        job.done += len(group)
        for row in good:
            job.applied += 1
            variant_id = known[row.sku][0] if row.sku in known else await rt.catalog.variant_id(row.sku)
            if row.reorder_point is not None and variant_id is not None:
                points[variant_id] = row.reorder_point
    if points:
        await set_reorder_points(rt.engine, points)
        for variant_id in points:
            await announce_variant(rt, variant_id)
    await rt.catalog.refresh()
    await announce_catalog(rt, list(by_product))
    await audit.record(rt.engine, job.actor, "catalog.import", job.filename, applied=job.applied,
                       rejected=len(job.rejected), reorder_points=len(points))


def _belongs(row: CatalogRow, known: dict[str, tuple[int, str]], job: Job) -> bool:
    if row.sku in known and known[row.sku][1] != row.product_sku:
        owner = known[row.sku][1]
        job.rejected.append(Rejected(row.row, "product_sku", f"{row.sku} belongs to product {owner}, "
                                                             f"not {row.product_sku}"))
        return False
    return True


async def _add(rt: Runtime, product_sku: str, fresh: list[CatalogRow], job: Job) -> None:
    new = [NewVariant(row.sku, row.size, row.color, row.material) for row in fresh]
    existing = await product_id(rt.read_engine, product_sku)
    if existing is not None:
        await add_variants(rt.engine, existing, new)
        return
    named = next((row for row in fresh if row.product_name), None)
    if named is None:
        raise Conflict(f"product_name: {product_sku} is a new product; give its name on one of its rows")
    await rt.catalog.add_product(product_sku, named.product_name, named.description, new)
    await audit.record(rt.engine, job.actor, "product.create", product_sku, name=named.product_name,
                       variants=[row.sku for row in fresh], source=job.filename)
