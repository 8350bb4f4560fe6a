"""A stock shard's persistence: load its state, and write one batch's changes in one transaction.

Plain functions over a synchronous SQLAlchemy Connection, so a whole batch (its look-ups, or its
group commit) is one hop to the database thread; `store.shard_db.ShardDatabase` runs them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from actors.model import OPEN, Changes, Line, OrderPart
from store.schema import allocations, inventory, ledger, order_lines, orders, processed_commands

Owns = Callable[[int], bool]
CHUNK = 500  # ids per IN (...) list


def load_levels(conn: Connection, owns: Owns) -> list[tuple[int, int, int, int]]:
    query = select(inventory.c.variant_id, inventory.c.location_id, inventory.c.on_hand,
                   inventory.c.reserved)
    rows = conn.execute(query).all()
    return [(r.variant_id, r.location_id, r.on_hand, r.reserved) for r in rows if owns(r.variant_id)]


def load_open_parts(conn: Connection, owns: Owns) -> list[OrderPart]:
    query = select(order_lines.c.order_id).where(order_lines.c.state == OPEN).distinct()
    order_ids = [row.order_id for row in conn.execute(query).all()]
    return _parts(conn, order_ids, owns)


def load_parts(conn: Connection, order_ids: Sequence[str], owns: Owns
               ) -> tuple[list[OrderPart], dict[str, str]]:
    """The parts of these orders that exist here, and the signature of every one of these orders
    the store holds; one indexed look-up when (as usual) it holds none."""
    signatures: dict[str, str] = {}
    for chunk in _chunks(order_ids):
        query = select(orders.c.id, orders.c.signature).where(orders.c.id.in_(chunk))
        signatures.update({r.id: r.signature for r in conn.execute(query).all()})
    parts = _parts(conn, list(signatures), owns) if signatures else []
    return parts, signatures


def _parts(conn: Connection, order_ids: Sequence[str], owns: Owns) -> list[OrderPart]:
    parts: dict[str, OrderPart] = {}
    for chunk in _chunks(order_ids):
        heads = {r.id: r for r in conn.execute(select(orders).where(orders.c.id.in_(chunk))).all()}
        line_rows = conn.execute(
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
        alloc_rows = conn.execute(select(allocations).where(allocations.c.order_id.in_(chunk)))
        for a in alloc_rows.all():
            part = parts.get(a.order_id)
            line = next((ln for ln in part.lines if ln.line_no == a.line_no), None) if part else None
            if line is not None:
                line.allocations[a.location_id] = a.quantity
    return list(parts.values())


def load_results(conn: Connection, command_ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(command_ids):
        query = select(processed_commands.c.id, processed_commands.c.result).where(
            processed_commands.c.id.in_(chunk)
        )
        found.update({r.id: r.result for r in conn.execute(query).all()})
    return found


def write(conn: Connection, changes: Changes, levels: Mapping[tuple[int, int], tuple[int, int]],
          results: dict[str, str]) -> None:
    """Every change of the batch; the caller's transaction makes it all or nothing."""
    now = time.time()
    if changes.new_parts:
        _insert(conn, orders, [_order_row(p) for p in changes.new_parts], ignore=("id",))
    if changes.lines:
        rows = [_line_row(oid, line) for (oid, _), line in changes.lines.items()]
        _upsert(conn, order_lines, rows, ("order_id", "line_no"), ("backordered", "state"))
    if changes.allocations:
        rows = [
            {"order_id": oid, "line_no": no, "location_id": loc,
             "quantity": changes.lines[(oid, no)].allocations.get(loc, 0)}
            for oid, no, loc in changes.allocations
        ]
        _upsert(conn, allocations, rows, ("order_id", "line_no", "location_id"), ("quantity",))
    if changes.levels:
        rows = [
            {"variant_id": variant_id, "location_id": location_id, "on_hand": on_hand,
             "reserved": reserved, "updated_at": now}
            for (variant_id, location_id), (on_hand, reserved) in levels.items()
        ]
        _upsert(conn, inventory, rows, ("variant_id", "location_id"), ("on_hand", "reserved", "updated_at"))
    if changes.ledger:
        rows = [{"at": now, **_ledger_row(e)} for e in changes.ledger]
        _insert(conn, ledger, rows, ignore=("id",))
    if results:
        rows = [{"id": cid, "result": text, "at": now} for cid, text in results.items()]
        _insert(conn, processed_commands, rows, ignore=("id",))


def _order_row(part: OrderPart) -> dict[str, Any]:
    return {"id": part.order_id, "channel": part.channel, "external_id": part.external_id,
            "policy": part.policy, "locations": ",".join(map(str, part.locations)),
            "placed_at": part.placed_at, "signature": part.signature}


def _line_row(order_id: str, line: Line) -> dict[str, Any]:
    return {"order_id": order_id, "line_no": line.line_no, "variant_id": line.variant_id,
            "quantity": line.quantity, "backordered": line.backordered, "state": line.state}


def _ledger_row(entry: Any) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in entry.__slots__}


def _dialect_insert(conn: Connection, table: Table) -> Any:
    return (sqlite if conn.dialect.name == "sqlite" else postgresql).insert(table)


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]],
                  ignore: tuple[str, ...]) -> None:
    key = (conn.dialect.name, table.name, "insert")
    if key not in _compiled:
        stmt = _dialect_insert(conn, table).on_conflict_do_nothing(index_elements=list(ignore))
        _compiled[key] = _compile(conn, stmt, rows[0])
    _executemany(conn, _compiled[key], rows)


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]],
                  keys: tuple[str, ...], columns: tuple[str, ...]) -> None:
    key = (conn.dialect.name, table.name, "upsert")
    if key not in _compiled:
        stmt = _dialect_insert(conn, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns}
        )
        _compiled[key] = _compile(conn, stmt, rows[0])
    _executemany(conn, _compiled[key], rows)


# The hot statements are compiled once per dialect and run as the driver's own executemany:
# SQLAlchemy's per-row parameter processing was most of a batch's cost.
_compiled: dict[tuple[str, str, str], tuple[str, tuple[str, ...]]] = {}


def _compile(conn: Connection, stmt: Any, sample: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    compiled = stmt.values({name: bindparam(name) for name in sample}).compile(dialect=conn.dialect)
    return str(compiled), tuple(compiled.positiontup or ())


def _executemany(conn: Connection, compiled: tuple[str, tuple[str, ...]],
                 rows: list[dict[str, Any]]) -> None:
    sql, names = compiled
    conn.exec_driver_sql(sql, [tuple(row[name] for name in names) for row in rows])


def _chunks(items: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch
