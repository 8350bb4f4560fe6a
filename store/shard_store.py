"""A stock shard's persistence: load its state, and write one batch's changes in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from actors.model import OPEN, Changes, Line, OrderPart
from store.schema import allocations, inventory, ledger, order_lines, orders, processed_commands

Owns = Callable[[int], bool]
CHUNK = 500  # ids per IN (...) list


async def load_levels(engine: AsyncEngine, owns: Owns) -> list[tuple[int, int, int, int]]:
    query = select(inventory.c.variant_id, inventory.c.location_id, inventory.c.on_hand,
                   inventory.c.reserved)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [(r.variant_id, r.location_id, r.on_hand, r.reserved) for r in rows if owns(r.variant_id)]


async def load_open_parts(engine: AsyncEngine, owns: Owns) -> list[OrderPart]:
    async with engine.connect() as conn:
        query = select(order_lines.c.order_id).where(order_lines.c.state == OPEN).distinct()
        order_ids = [row.order_id for row in (await conn.execute(query)).all()]
        return await _parts(conn, order_ids, owns)


async def load_parts(engine: AsyncEngine, order_ids: Sequence[str], owns: Owns
                     ) -> tuple[list[OrderPart], dict[str, str]]:
    """The parts of these orders that exist here, and the signature of every one of these orders
    the store holds; one indexed look-up when (as usual) it holds none."""
    async with engine.connect() as conn:
        signatures: dict[str, str] = {}
        for chunk in _chunks(order_ids):
            query = select(orders.c.id, orders.c.signature).where(orders.c.id.in_(chunk))
            signatures.update({r.id: r.signature for r in (await conn.execute(query)).all()})
        parts = await _parts(conn, list(signatures), owns) if signatures else []
        return parts, signatures


async def _parts(conn: AsyncConnection, order_ids: Sequence[str], owns: Owns) -> list[OrderPart]:
    parts: dict[str, OrderPart] = {}
    for chunk in _chunks(order_ids):
        heads = {r.id: r for r in (await conn.execute(select(orders).where(orders.c.id.in_(chunk)))).all()}
        line_rows = await conn.execute(
            select(order_lines).where(order_lines.c.order_id.in_(chunk))
            .order_by(order_lines.c.order_id, order_lines.c.line_no)
        )
        for r in line_rows.all():
            if not owns(r.variant_id):
                continue
            if r.order_id not in parts:
                head = heads[r.order_id]
                parts[r.order_id] = OrderPart(
                    head.id, head.channel, head.external_id, head.policy,
                    tuple(int(x) for x in head.locations.split(",") if x), head.placed_at, [],
                    head.signature,
                )
            parts[r.order_id].lines.append(
                Line(r.line_no, r.variant_id, r.quantity, {}, r.backordered, r.state)
            )
        alloc_rows = await conn.execute(select(allocations).where(allocations.c.order_id.in_(chunk)))
        for a in alloc_rows.all():
            part = parts.get(a.order_id)
            line = next((ln for ln in part.lines if ln.line_no == a.line_no), None) if part else None
            if line is not None:
                line.allocations[a.location_id] = a.quantity
    return list(parts.values())


async def load_results(engine: AsyncEngine, command_ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    async with engine.connect() as conn:
        for chunk in _chunks(command_ids):
            query = select(processed_commands.c.id, processed_commands.c.result).where(
                processed_commands.c.id.in_(chunk)
            )
            found.update({r.id: r.result for r in (await conn.execute(query)).all()})
    return found


async def write(engine: AsyncEngine, changes: Changes, levels: Callable[[int, int], tuple[int, int]],
                results: dict[str, str]) -> None:
    """Group commit: every change of the batch, or none of them."""
    now = time.time()
    async with engine.begin() as conn:
        if changes.new_parts:
            await _insert(conn, orders, [_order_row(p) for p in changes.new_parts], ignore=("id",))
        if changes.lines:
            rows = [_line_row(oid, line) for (oid, _), line in changes.lines.items()]
            await _upsert(conn, order_lines, rows, ("order_id", "line_no"), ("backordered", "state"))
        if changes.allocations:
            rows = [
                {"order_id": oid, "line_no": no, "location_id": loc,
                 "quantity": changes.lines[(oid, no)].allocations.get(loc, 0)}
                for oid, no, loc in changes.allocations
            ]
            await _upsert(conn, allocations, rows, ("order_id", "line_no", "location_id"), ("quantity",))
        if changes.levels:
            rows = []
            for variant_id, location_id in changes.levels:
                on_hand, reserved = levels(variant_id, location_id)
                rows.append({"variant_id": variant_id, "location_id": location_id, "on_hand": on_hand,
                             "reserved": reserved, "updated_at": now})
            await _upsert(conn, inventory, rows, ("variant_id", "location_id"),
                          ("on_hand", "reserved", "updated_at"))
        if changes.ledger:
            rows = [{"at": now, **_ledger_row(e)} for e in changes.ledger]
            await _insert(conn, ledger, rows, ignore=("id",))
        if results:
            rows = [{"id": cid, "result": text, "at": now} for cid, text in results.items()]
            await _insert(conn, processed_commands, rows, ignore=("id",))


def _order_row(part: OrderPart) -> dict[str, Any]:
    return {"id": part.order_id, "channel": part.channel, "external_id": part.external_id,
            "policy": part.policy, "locations": ",".join(map(str, part.locations)),
            "placed_at": part.placed_at, "signature": part.signature}


def _line_row(order_id: str, line: Line) -> dict[str, Any]:
    return {"order_id": order_id, "line_no": line.line_no, "variant_id": line.variant_id,
            "quantity": line.quantity, "backordered": line.backordered, "state": line.state}


def _ledger_row(entry: Any) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in entry.__slots__}


def _dialect_insert(conn: AsyncConnection, table: Table) -> Any:
    return (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(table)


async def _insert(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]],
                  ignore: tuple[str, ...]) -> None:
    key = (conn.dialect.name, table.name, "insert")
    if key not in _compiled:
        stmt = _dialect_insert(conn, table).on_conflict_do_nothing(index_elements=list(ignore))
        _compiled[key] = _compile(conn, stmt, rows[0])
    await _executemany(conn, _compiled[key], rows)


async def _upsert(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]],
                  keys: tuple[str, ...], columns: tuple[str, ...]) -> None:
    key = (conn.dialect.name, table.name, "upsert")
    if key not in _compiled:
        stmt = _dialect_insert(conn, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns}
        )
        _compiled[key] = _compile(conn, stmt, rows[0])
    await _executemany(conn, _compiled[key], rows)


# The hot statements are compiled once per dialect and run as the driver's own executemany:
# SQLAlchemy's per-row parameter processing was most of a batch's cost.
_compiled: dict[tuple[str, str, str], tuple[str, tuple[str, ...]]] = {}


def _compile(conn: AsyncConnection, stmt: Any, sample: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    compiled = stmt.values({name: bindparam(name) for name in sample}).compile(dialect=conn.dialect)
    return str(compiled), tuple(compiled.positiontup or ())


async def _executemany(conn: AsyncConnection, compiled: tuple[str, tuple[str, ...]],
                       rows: list[dict[str, Any]]) -> None:
    sql, names = compiled
    await conn.exec_driver_sql(sql, [tuple(row[name] for name in names) for row in rows])


def _chunks(items: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch
