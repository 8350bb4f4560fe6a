"""The stock use cases: receive, adjust, transfer and a stock-take. Whichever door a change comes
through (the REST API, a dashboard form, a CSV upload), it goes through the desk to the shards, which
write the ledger, and then into the audit trail naming who asked; so both doors leave the same trace.

Callers give commands already checked (HTTP input is parsed and validated in web/) without an
actor; the actor is given apart and stamped on here. A refusal comes back as the domain's Failure."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from inventory.commands import Adjust, Failure, Receive, Result, StockCommand, Transfer, VariantStock
from inventory.desk import ShardUnavailable
from store import audit

if TYPE_CHECKING:
    from service.runtime import Runtime

CHUNK = 200  # counts of a stock-take sent at once
RETRIES = 3


async def receive(rt: Runtime, command: Receive, actor: str) -> VariantStock | Failure:
    return await _apply(rt, command._replace(actor=actor))


async def adjust(rt: Runtime, command: Adjust, actor: str) -> VariantStock | Failure:
    return await _apply(rt, command._replace(actor=actor))


async def transfer(rt: Runtime, command: Transfer, actor: str) -> VariantStock | Failure:
    return await _apply(rt, command._replace(actor=actor))


async def stock_take(rt: Runtime, counts: Sequence[Adjust], actor: str, source: str,
                     progress: Callable[[Sequence[Result]], None] | None = None,
                     refused_before: int = 0) -> list[Result]:
    """Counted quantities, one command per count (so a count is applied whole or not at all), in
    chunks; `progress` hears each chunk's results. Command ids must be fixed by the caller: a chunk
    retried after a shard failure then applies nothing twice. One audit entry for the whole take,
    counting too the counts the caller refused before (a CSV's bad rows)."""
    why = f"stock-take {source}"
    results: list[Result] = []
    for start in range(0, len(counts), CHUNK):
        chunk = [count._replace(actor=actor, note=why) for count in counts[start:start + CHUNK]]
        answers = await _submit(rt, chunk)
        results.extend(answers)
        if progress is not None:
            progress(answers)
    refused = sum(isinstance(result, Failure) for result in results)
    await audit.record(rt.engine, actor, "stock.stocktake", source, why=why,
                       applied=len(results) - refused, rejected=refused + refused_before)
    return results


async def _apply(rt: Runtime, command: StockCommand) -> VariantStock | Failure:
    """Through the shards (committed when this returns), then into the audit trail."""
    result = await rt.desk.stock_command(command)
    if isinstance(result, Failure):
        return result
    if not isinstance(result, VariantStock):
        raise TypeError(f"a stock command was answered with {result!r}")
    sku = rt.catalog.sku(command.variant_id)
    # "why" stays in the detail, empty, as entries have always had it: the note says why
    await audit.record(rt.engine, command.actor or "", f"stock.{type(command).__name__.lower()}", sku,
                       why="", **_detail(rt, command))
    return result


def _detail(rt: Runtime, command: StockCommand) -> dict[str, Any]:
    detail = {name: value for name, value in command._asdict().items()
              if name not in ("actor", "variant_id") and value is not None}
    for name in ("location_id", "from_location_id", "to_location_id"):
        if name in detail:
            detail[name.removesuffix("_id")] = rt.catalog.location_code(detail.pop(name))
    return detail


async def _submit(rt: Runtime, commands: list[Adjust]) -> list[Result]:
    for attempt in range(RETRIES):
        try:
            # one call per command, all at once: the router batches them per shard, and the
            # answers come back in the commands' order
            return list(await asyncio.gather(*(rt.desk.stock_command(c) for c in commands)))
        except ShardUnavailable:
            if attempt == RETRIES - 1:
                raise
            await asyncio.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")
