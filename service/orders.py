"""The order use cases: place, fulfil and cancel. Through the desk to the shards (which keep the
ledger and refuse what an order's state forbids), for the REST API and the dashboard alike. A
refusal comes back as the domain's Failure.

Who placed an order is written by the shard in the same transaction as the order and its ledger
entries (their `actor`), so placing writes nothing more: a second write per order, into the audit
trail, competed with the shards for SQLite's one writer and halved orders/s (641 -> 308 in one
benchmark run). Fulfil and cancel, rarer and done by people, are also entered in the audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from inventory.commands import Failure
from inventory.desk import Channel, OrderOutcome
from store import audit, queries
from store.queries import StoredOrder

if TYPE_CHECKING:
    from service.runtime import Runtime


async def place(rt: Runtime, channel: Channel, external_id: str, lines: Sequence[tuple[int, int]],
                actor: str) -> OrderOutcome | Failure:
    """`lines` are (variant id, quantity), kits among them. Placing the same order again changes
    nothing."""
    kits = await rt.catalog.kits_among(variant_id for variant_id, _ in lines)
    return await rt.desk.place_order(channel, external_id, lines, actor, kits)


async def fulfil(rt: Runtime, order_id: str, actor: str) -> StoredOrder | Failure:
    """The order as it was before. An order still waiting for units is refused by the shards."""
    return await _transition(rt, order_id, "fulfil", actor)


async def cancel(rt: Runtime, order_id: str, actor: str) -> StoredOrder | Failure:
    """The order as it was before."""
    return await _transition(rt, order_id, "cancel", actor)


async def _transition(rt: Runtime, order_id: str, action: str, actor: str) -> StoredOrder | Failure:
    current = await queries.order(rt.read_engine, order_id)
    if current is None:
        return Failure("not_found", f"id: no order {order_id!r}")
    do = rt.desk.fulfil if action == "fulfil" else rt.desk.cancel
    result = await do(order_id, [line.variant_id for line in current.lines], actor)
    if isinstance(result, Failure):
        return result
    await audit.record(rt.engine, actor, f"order.{action}", order_id, channel=current.channel,
                       external_id=current.external_id)
    return current
