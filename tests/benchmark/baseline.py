"""What a naive peer would write: aiohttp + one SQLAlchemy (aiosqlite) transaction per order.

    python -m tests.benchmark.baseline --port 8100 --db /tmp/base.db --seed-skus 200 --stock 100000

Plain defaults on purpose (default pool, default SQLite synchronous=FULL, WAL journal); it is the
reference Threadcount is compared with, so it must be correct as well: the guarded update and the
CHECK constraint mean it never oversells, and (channel, external_id) is unique so a replay answers 200
with the stored answer. Orders that cannot be filled whole are recorded as ``rejected``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import (
    CheckConstraint,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

LOCATION = "WH-1"
ATTEMPTS = 3
metadata = MetaData()
stock = Table(
    "stock",
    metadata,
    Column("sku", String, primary_key=True),
    Column("location", String, primary_key=True),
    Column("on_hand", Integer, nullable=False),
    Column("reserved", Integer, nullable=False),
    CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="never_oversold"),
)
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String, nullable=False),
    Column("external_id", String, nullable=False),
    Column("status", String, nullable=False),
    Column("lines", Text, nullable=False),
    UniqueConstraint("channel", "external_id"),
)
ENGINE = web.AppKey("engine", AsyncEngine)


class StockChanged(Exception):
    """A concurrent order took the stock between our read and our guarded update."""


def sku_names(count: int) -> list[str]:
    return [f"BASE-{n:04d}" for n in range(count)]


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _invalid(body: Any) -> str | None:
    """What is wrong with an order body, naming the field; None when it is valid."""
    if not isinstance(body, dict):
        return "body must be a JSON object"
    for name in ("channel", "external_id"):
        if not isinstance(body.get(name), str) or not body[name]:
            return f"{name} must be a non-empty string"
    lines = body.get("lines")
    if not isinstance(lines, list) or not lines:
        return "lines must be a non-empty list"
    for n, line in enumerate(lines):
        if not isinstance(line, dict) or not isinstance(line.get("sku"), str):
            return f"lines[{n}].sku must be a string"
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            return f"lines[{n}].quantity must be a positive integer"
    return None


async def _stored_answer(conn: AsyncConnection, channel: str, external_id: str) -> dict[str, Any] | None:
    query = select(orders).where(orders.c.channel == channel, orders.c.external_id == external_id)
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return {
        "id": row.id,
        "channel": row.channel,
        "external_id": row.external_id,
        "status": row.status,
        "lines": json.loads(row.lines),
    }


async def _allocate(conn: AsyncConnection, sku: str, quantity: int) -> list[dict[str, Any]] | None:
    """Allocations that cover ``quantity`` from the locations in code order; None when short."""
    query = (
        select(stock.c.location, stock.c.on_hand, stock.c.reserved)
        .where(stock.c.sku == sku)
        .order_by(stock.c.location)
    )
    allocations, remaining = [], quantity
    for location, on_hand, reserved in (await conn.execute(query)).all():
        take = min(remaining, on_hand - reserved)
        if take > 0:
            allocations.append({"location": location, "quantity": take})
            remaining -= take
    return None if remaining else allocations


async def _place(conn: AsyncConnection, body: dict[str, Any]) -> dict[str, Any]:
    plans = [(line, await _allocate(conn, line["sku"], line["quantity"])) for line in body["lines"]]
    status = "rejected" if any(allocs is None for _, allocs in plans) else "reserved"
    answer_lines = []
    for line, allocs in plans:
        taken = allocs if status == "reserved" and allocs else []
        for alloc in taken:
            guarded = (
                update(stock)
                .where(stock.c.sku == line["sku"], stock.c.location == alloc["location"])
                .where(stock.c.on_hand - stock.c.reserved >= alloc["quantity"])
                .values(reserved=stock.c.reserved + alloc["quantity"])
            )
            if (await conn.execute(guarded)).rowcount != 1:
                raise StockChanged(line["sku"])
        reserved = line["quantity"] if taken else 0
        answer_lines.append(
            {
                "sku": line["sku"],
                "quantity": line["quantity"],
                "reserved": reserved,
                "backordered": 0,
                "allocations": taken,
            }
        )
    row = {"channel": body["channel"], "external_id": body["external_id"], "status": status}
    query = insert(orders).values(**row, lines=json.dumps(answer_lines)).returning(orders.c.id)
    order_id = (await conn.execute(query)).scalar_one()
    return {"id": order_id, **row, "lines": answer_lines}


async def _attempt(engine: AsyncEngine, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    async with engine.begin() as conn:
        known = await _stored_answer(conn, body["channel"], body["external_id"])
        if known is not None:
            return known, 200
        return await _place(conn, body), 201


async def create_order(request: web.Request) -> web.Response:
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "malformed_json", "the body is not valid JSON")
    problem = _invalid(body)
    if problem:
        return _error(422, "invalid_order", problem)
    engine = request.app[ENGINE]
    # A lost race for the last units is retried from a fresh read, which then answers "rejected".
    for _ in range(ATTEMPTS):
        try:
            answer, status = await _attempt(engine, body)
            return web.json_response(answer, status=status)
        except StockChanged:
            continue
        except IntegrityError:
            # A twin with the same (channel, external_id) committed first: answer as it did.
            async with engine.connect() as conn:
                known = await _stored_answer(conn, body["channel"], body["external_id"])
            if known is None:
                raise
            return web.json_response(known, status=200)
    return _error(409, "stock_changed", f"stock kept changing over {ATTEMPTS} attempts; retry the order")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _seed(engine: AsyncEngine, skus: int, quantity: int) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        if skus:
            await conn.execute(stock.delete())
            rows = [
                {"sku": s, "location": LOCATION, "on_hand": quantity, "reserved": 0} for s in sku_names(skus)
            ]
            await conn.execute(insert(stock), rows)


def make_app(db: Path, seed_skus: int, stock_quantity: int) -> web.Application:
    async def database(app: web.Application) -> AsyncIterator[None]:
        app[ENGINE] = create_async_engine(f"sqlite+aiosqlite:///{db}")
        await _seed(app[ENGINE], seed_skus, stock_quantity)
        yield
        await app[ENGINE].dispose()

    app = web.Application()
    app.cleanup_ctx.append(database)
    app.router.add_post("/api/v1/orders", create_order)
    app.router.add_get("/healthz", healthz)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark.baseline", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", type=Path, required=True, help="SQLite file (created if missing)")
    parser.add_argument("--seed-skus", type=int, default=0, help="(re)seed this many SKUs at WH-1")
    parser.add_argument("--stock", type=int, default=100_000, help="on-hand quantity of each seeded SKU")
    args = parser.parse_args(argv)
    app = make_app(args.db, args.seed_skus, args.stock)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
