"""The hold use cases: make, release, read, and convert into an order, for the REST API and the
dashboard alike.

Order of effects, so that a crash anywhere leaves nothing held for ever:
- make: the row first (held, with its expiry), then the shards' reservation; a refusal deletes the
  row. A crash in between leaves a held row whose expiry releases whatever the shards did.
- release / expire / convert: the store's claim first (exactly one wins), then the shards' part,
  which is idempotent and is finished at start when a crash came between (service.hold_keeper)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from inventory.commands import Failure, LineStatus
from inventory.desk import Channel, OrderOutcome, order_id_for
from inventory.holds import HOLD_CHANNEL, HoldStatus, new_hold_id, pair_lines
from store import holds as stored_holds
from store import queries
from store.holds import Conversion, StoredHold

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)


async def create(rt: Runtime, channel: Channel, lines: Sequence[tuple[int, int]], ttl_s: int,
                 actor: str) -> StoredHold | Failure:
    """`lines` are (variant id, quantity). All or nothing: a short line holds nothing."""
    now = time.time()
    hold = StoredHold(new_hold_id(), channel.name, HoldStatus.HELD, list(lines), now, now + ttl_s,
                      actor=actor)
    await stored_holds.insert(rt.engine, hold)
    try:
        # its own channel, always `reject`: a hold never waits for stock
        outcome = await rt.desk.place_order(Channel(HOLD_CHANNEL, "reject", channel.locations), hold.id,
                                            lines, actor, order_id=hold.id)
    except BaseException:
        rt.hold_keeper.watch(hold.id, hold.expires_at)  # whatever the shards did, expiry undoes it
        raise
    if isinstance(outcome, Failure) or any(line.state != LineStatus.OPEN for line in outcome.lines):
        await stored_holds.forget(rt.engine, hold.id)
        if isinstance(outcome, Failure):
            return outcome
        return Failure("insufficient_stock", f"lines: not enough available on channel {channel.name!r}'s "
                                             "locations to hold every line; nothing was held")
    rt.hold_keeper.watch(hold.id, hold.expires_at)
    return hold


async def get(rt: Runtime, hold_id: str) -> StoredHold | Failure:
    hold = await stored_holds.get(rt.read_engine, hold_id)
    return hold if hold is not None else Failure("not_found", f"id: no hold {hold_id!r}")


async def release(rt: Runtime, hold_id: str, actor: str) -> StoredHold | Failure:
    """Its units go back to stock. Releasing a released hold again changes nothing; an expired or
    converted one is refused."""
    hold = await get(rt, hold_id)
    if isinstance(hold, Failure):
        return hold
    if await stored_holds.claim(rt.engine, hold_id, HoldStatus.RELEASED, time.time(), actor):
        rt.hold_keeper.forget(hold_id)
        await rt.hold_keeper.settle(hold, actor)
    now = await get(rt, hold_id)
    if not isinstance(now, Failure) and now.status != HoldStatus.RELEASED:
        return not_held(now)
    return now


async def convert(rt: Runtime, hold_id: str, channel: Channel, external_id: str,
                  lines: Sequence[tuple[int, int]], actor: str) -> OrderOutcome | Failure:
    """A new order (channel + external id as any order) that takes the hold's units: its lines must
    be the hold's (in any order). The same request again answers the same order."""
    hold = await get(rt, hold_id)
    if isinstance(hold, Failure):
        return Failure("not_found", f"hold_id: no hold {hold_id!r}")
    if hold.channel != channel.name:
        return Failure("hold_channel_differs", f"channel: hold {hold_id} was made for channel "
                                               f"{hold.channel!r}")
    pairs = pair_lines(hold.lines, lines)
    if pairs is None:
        return Failure("hold_lines_differ", f"lines: not the lines of hold {hold_id} (the same skus and "
                                            "quantities, in any order)")
    order_id = order_id_for(channel.name, external_id)
    if hold.status == HoldStatus.HELD:
        if await queries.order(rt.read_engine, order_id) is not None:
            return Failure("external_id_reused", f"external_id: {external_id!r} was already used on channel "
                                                 f"{channel.name!r} for an order not made from this hold")
        claimed = Conversion(order_id, external_id, list(lines))
        if await stored_holds.claim(rt.engine, hold_id, HoldStatus.CONVERTED, time.time(), actor, claimed):
            rt.hold_keeper.forget(hold_id)
            outcome = await rt.desk.convert_hold(hold_id, channel, external_id, lines, pairs, actor)
            if isinstance(outcome, Failure):
                await _unclaim(rt, hold, order_id, outcome)
            return outcome
        hold = await get(rt, hold_id)  # another request ended it first
        if isinstance(hold, Failure):
            return hold
    if hold.status == HoldStatus.CONVERTED and hold.order_id == order_id:
        return await rt.desk.convert_hold(hold_id, channel, external_id, lines, pairs, actor)
    return not_held(hold)


async def _unclaim(rt: Runtime, hold: StoredHold, order_id: str, refusal: Failure) -> None:
    """The shards refused the conversion (an order with this external id came first): held again."""
    log.warning("hold %s: the shards refused its conversion into %s: %s", hold.id, order_id, refusal.message)
    if await stored_holds.unclaim(rt.engine, hold.id, order_id):
        rt.hold_keeper.watch(hold.id, hold.expires_at)


def not_held(hold: StoredHold) -> Failure:
    return Failure("hold_not_held", f"hold_id: hold {hold.id} is {hold.status}, no longer held")
