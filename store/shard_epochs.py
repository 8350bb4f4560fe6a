"""Fencing: a stock shard incarnation commits only while it is the newest of its shard.

A shard actor cut off with its node may live on and reach the database later, while Ray has started
its shard again elsewhere; both would own the same variants. So each incarnation takes the next
epoch of its shard when it starts (`claim`, before it loads its state), and every group commit
first checks, in the same transaction, that the shard's epoch is still the one it took (`check`):
an UPDATE matching exactly one row. A stale incarnation's check matches none: StaleShard, the
transaction rolls back, and the shard takes no more commands.

Why this is enough: the check's UPDATE and the claim's both write the shard's row, so they are
ordered by the database (PostgreSQL: the row lock; SQLite: one writer). A stale commit ordered
before the claim is committed before the new incarnation loads, so it is loaded; one ordered after
it matches no row. A service starting (`fence_all`) moves every shard's epoch on, so no incarnation
of an earlier run (of any shard count) can commit once the new run's shards exist.

A stale incarnation cut off in the middle of its commit holds the shard's row (the check comes
first) until its session ends: on PostgreSQL the server ends a shard's session silent in a
transaction after ACTOR_IDLE_IN_TRANSACTION_S (store/engine.py), so the claim waits that long at most.

Plain functions over a synchronous Connection, like store/shard_store.py."""

from __future__ import annotations

import time

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from store.schema import shard_epochs


class StaleShard(RuntimeError):
    """A newer incarnation of this shard has started: this one must not commit again."""


def claim(conn: Connection, shard: int) -> int:
    """The next epoch of `shard` (1 for its first incarnation), now its own."""
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    statement = dialect.insert(shard_epochs).values(shard=shard, epoch=1, started_at=time.time())
    statement = statement.on_conflict_do_update(
        index_elements=["shard"],
        set_={"epoch": shard_epochs.c.epoch + 1, "started_at": statement.excluded.started_at},
    ).returning(shard_epochs.c.epoch)
    return int(conn.execute(statement).scalar_one())


# built once: it runs in every group commit
CHECK = (update(shard_epochs)
         .where(shard_epochs.c.shard == bindparam("k_shard"), shard_epochs.c.epoch == bindparam("k_epoch"))
         .values(epoch=shard_epochs.c.epoch))


def check(conn: Connection, shard: int, epoch: int) -> None:
    """In the commit's own transaction: raises StaleShard unless `epoch` is still the shard's."""
    matched = conn.execute(CHECK, {"k_shard": shard, "k_epoch": epoch}).rowcount
    if matched != 1:
        raise StaleShard(f"shard {shard}: epoch {epoch} is no longer this shard's (a newer incarnation "
                         "started); this one takes no more commands")


async def fence_all(engine: AsyncEngine) -> None:
    """At a service's start, before its shards: every shard incarnation started before is stale."""
    async with engine.begin() as conn:
        await conn.execute(update(shard_epochs).values(epoch=shard_epochs.c.epoch + 1))


async def epochs(engine: AsyncEngine) -> dict[int, int]:
    async with engine.connect() as conn:
        return {r.shard: r.epoch for r in (await conn.execute(select(shard_epochs))).all()}
