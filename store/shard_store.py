"""A stock shard's persistence: load its state, and write one batch's changes in one transaction.

Plain functions over a synchronous SQLAlchemy Connection, so a whole batch (its look-ups, or its
group commit) is one hop to the database thread; `store.shard_db.ShardDatabase` runs them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import BindParameter, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from inventory.commands import LineStatus
from inventory.model import Changes, Line, OrderPart
from store import shard_epochs
from store.lines import decode_allocations, encode_allocations
from store.schema import inventory, ledger, order_lines, orders, processed_commands

Owns = Callable[[int], bool]
T = TypeVar("T")
CHUNK = 500  # ids per IN (...) list


def load_levels(conn: Connection, owns: Owns) -> list[tuple[int, int, int, int]]:
    query = select(inventory.c.variant_id, inventory.c.location_id, inventory.c.on_hand,
                   inventory.c.reserved)
    rows = conn.execute(query).all()
    return [(r.variant_id, r.location_id, r.on_hand, r.reserved) for r in rows if owns(r.variant_id)]


def load_open_parts(conn: Connection, owns: Owns) -> list[OrderPart]:
    query = select(order_lines.c.order_seq).where(order_lines.c.state == LineStatus.OPEN).distinct()
    return _parts(conn, [row.order_seq for row in conn.execute(query).all()], owns)


# Built once: a look-up per batch had built its statement anew, a good part of its cost.
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
STORED_ORDERS = select(orders.c.id, orders.c.signature, orders.c.seq).where(orders.c.id.in_(_IDS))
ORDER_HEADS = select(orders).where(orders.c.seq.in_(_IDS))
ORDER_LINES = (select(order_lines).where(order_lines.c.order_seq.in_(_IDS))
               .order_by(order_lines.c.order_seq, order_lines.c.line_no))
STORED_RESULTS = select(processed_commands.c.id, processed_commands.c.result).where(
    processed_commands.c.id.in_(_IDS))


def load_parts(conn: Connection, order_ids: Sequence[str], owns: Owns
               ) -> tuple[list[OrderPart], dict[str, tuple[str, int]]]:
    """The parts of these orders that exist here, and the (signature, seq) of every one of these
    orders the store holds; one indexed look-up when (as usual) it holds none."""
    stored: dict[str, tuple[str, int]] = {}
    for chunk in _chunks(order_ids):
        stored.update({r.id: (r.signature, r.seq) for r in conn.execute(STORED_ORDERS, {"ids": chunk}).all()})
    parts = _parts(conn, [seq for _, seq in stored.values()], owns) if stored else []
    return parts, stored


def _parts(conn: Connection, seqs: Sequence[int], owns: Owns) -> list[OrderPart]:
    parts: dict[int, OrderPart] = {}
    for chunk in _chunks(seqs):
        heads = {r.seq: r for r in conn.execute(ORDER_HEADS, {"ids": chunk}).all()}
        line_rows = conn.execute(ORDER_LINES, {"ids": chunk})
        for r in line_rows.all():
            if not owns(r.variant_id):
                continue
            if r.order_seq not in parts:
                head = heads[r.order_seq]
                parts[r.order_seq] = OrderPart(
                    head.id, head.channel, head.external_id, head.policy,
                    tuple(int(x) for x in head.locations.split(",") if x), head.placed_at, [],
                    head.signature, head.seq,
                )
            parts[r.order_seq].lines.append(Line(
                r.line_no, r.variant_id, r.quantity, decode_allocations(r.allocations), r.backordered,
                LineStatus(r.state)
            ))
    return list(parts.values())


def load_results(conn: Connection, command_ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(command_ids):
        found.update({r.id: r.result for r in conn.execute(STORED_RESULTS, {"ids": chunk}).all()})
    return found


@dataclass(frozen=True, slots=True)
class BatchRows:
    """A batch's rows, taken when the batch is applied: later batches go on changing the same lines
    in memory before this one is committed, so what is written must be a copy."""

    orders: list[tuple[Any, ...]]
    new_lines: list[tuple[Any, ...]]
    changed_lines: list[tuple[Any, ...]]
    levels: list[tuple[Any, ...]]
    ledger: list[tuple[Any, ...]]
    results: list[tuple[Any, ...]]

    @property
    def empty(self) -> bool:
        return not (self.orders or self.changed_lines or self.levels or self.ledger or self.results)

    @classmethod
    def merged(cls, batches: Sequence[BatchRows]) -> BatchRows:
        """Several batches as one, in order: a later update of a row lands after an earlier one."""
        return cls(*([row for batch in batches for row in getattr(batch, name)] for name in cls.__slots__))


def rows_of(changes: Changes, levels: Mapping[tuple[int, int], tuple[int, int]], results: dict[str, str]
            ) -> BatchRows:
    now = time.time()
    parts = changes.new_parts.values()
    return BatchRows(
        orders=[(p.seq, p.order_id, p.channel, p.external_id, p.policy, ",".join(map(str, p.locations)),
                 p.placed_at, p.signature) for p in parts],
        new_lines=[(p.seq, ln.line_no, ln.variant_id, ln.quantity, ln.backordered, str(ln.state),
                    encode_allocations(ln.allocations)) for p in parts for ln in p.lines],
        changed_lines=[(line.backordered, str(line.state), encode_allocations(line.allocations), seq, line_no)
                       for (seq, line_no), line in changes.lines.items()],
        levels=[(variant_id, location_id, on_hand, reserved, now)
                for (variant_id, location_id), (on_hand, reserved) in levels.items()],
        ledger=[(now, e.variant_id, e.location_id, e.kind, e.delta_on_hand, e.delta_reserved, e.reason,
                 e.reference, e.note, e.actor, e.command_id) for e in changes.ledger],
        results=[(cid, text, now) for cid, text in results.items()],
    )


def write_fenced(conn: Connection, rows: BatchRows, shard: int, epoch: int) -> None:
    """`write`, only while `epoch` is still the shard's (store/shard_epochs.py), checked first in
    the same transaction: a stale incarnation's commit raises StaleShard and is rolled back."""
    shard_epochs.check(conn, shard, epoch)
    write(conn, rows)


def write(conn: Connection, rows: BatchRows) -> None:
    """Every row of the batch; the caller's transaction makes it all or nothing. Rows go as tuples
    to the driver's executemany: building dicts per row was a third of the cost. A statement is built
    only the first time (`_run`): building one per batch was a tenth of a shard's Python time."""
    if rows.orders:
        # every part of an order inserts the same header; the first one stays
        _run(conn, "orders", lambda: _insert_ignoring(conn, orders, ORDER_COLUMNS), ORDER_COLUMNS,
             rows.orders)
        _run(conn, "order_lines", lambda: insert(order_lines).values(_binds(LINE_COLUMNS)), LINE_COLUMNS,
             rows.new_lines)
    if rows.changed_lines:
        _run(conn, "order_lines.update", _line_update, UPDATE_LINE_BINDS, rows.changed_lines)
    if rows.levels:
        _run(conn, "inventory", lambda: _inventory_upsert(conn), INVENTORY_COLUMNS, rows.levels)
    if rows.ledger:
        _run(conn, "ledger", lambda: insert(ledger).values(_binds(LEDGER_COLUMNS)), LEDGER_COLUMNS,
             rows.ledger)
    if rows.results:
        _run(conn, "processed_commands", lambda: _insert_ignoring(conn, processed_commands, DONE_COLUMNS),
             DONE_COLUMNS, rows.results)


ORDER_COLUMNS = ("seq", "id", "channel", "external_id", "policy", "locations", "placed_at", "signature")
LINE_COLUMNS = ("order_seq", "line_no", "variant_id", "quantity", "backordered", "state", "allocations")
LEDGER_COLUMNS = ("at", "variant_id", "location_id", "kind", "delta_on_hand", "delta_reserved", "reason",
                  "reference", "note", "actor", "command_id")
INVENTORY_COLUMNS = ("variant_id", "location_id", "on_hand", "reserved", "updated_at")
UPDATE_LINE_BINDS = ("backordered", "state", "allocations", "k_order", "k_line")
DONE_COLUMNS = ("id", "result", "at")


def _binds(columns: Sequence[str]) -> dict[str, Any]:
    return {name: bindparam(name) for name in columns}


def _insert_ignoring(conn: Connection, table: Table, columns: Sequence[str]) -> Any:
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    return dialect.insert(table).values(_binds(columns)).on_conflict_do_nothing()


def _line_update() -> Any:
    return update(order_lines).where(
        order_lines.c.order_seq == bindparam("k_order"), order_lines.c.line_no == bindparam("k_line")
    ).values(backordered=bindparam("backordered"), state=bindparam("state"),
             allocations=bindparam("allocations"))


def _inventory_upsert(conn: Connection) -> Any:
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    statement = dialect.insert(inventory).values(_binds(INVENTORY_COLUMNS))
    return statement.on_conflict_do_update(
        index_elements=["variant_id", "location_id"],
        set_={c: statement.excluded[c] for c in ("on_hand", "reserved", "updated_at")},
    )


# Built and compiled once per dialect and statement, then run as the driver's own executemany. Rows
# are built in `names` order; the compiled statement's bind order may differ, so it is mapped once here.
_compiled: dict[tuple[str, str], tuple[str, tuple[int, ...] | None]] = {}


def _run(conn: Connection, name: str, build: Callable[[], Any], names: Sequence[str],
         rows: list[tuple[Any, ...]]) -> None:
    key = (conn.dialect.name, name)
    if key not in _compiled:
        compiled = build().compile(dialect=conn.dialect)
        binds = tuple(compiled.positiontup or ())
        if sorted(binds) != sorted(names):
            raise RuntimeError(f"{name}: statement binds {binds}, rows carry {tuple(names)}")
        permutation = tuple(names.index(bind) for bind in binds)
        _compiled[key] = (str(compiled), None if permutation == tuple(range(len(names))) else permutation)
    sql, order = _compiled[key]
    if order is not None:
        rows = [tuple(row[i] for i in order) for row in rows]
    conn.exec_driver_sql(sql, rows)


def _chunks(items: Iterable[T]) -> Iterable[list[T]]:
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch
