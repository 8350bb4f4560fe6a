"""StockDesk: what callers use. Splits an order into one part per shard, sends the parts through the
router, and keeps an order whole: with the `reject` policy a part that was short rejects the whole
order, so the parts that did reserve are aborted (released) before anyone is answered."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from actors.commands import (
    AbortOrder,
    CancelOrder,
    Failure,
    FulfilOrder,
    LineRequest,
    LineState,
    OrderPartState,
    PlaceOrder,
    Policy,
    Result,
    StockCommand,
)
from actors.model import OPEN, REJECTED
from actors.partition import shard_of
from actors.router import ShardRouter


@dataclass(frozen=True, slots=True)
class Channel:
    name: str
    policy: Policy
    locations: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    order_id: str
    created: bool
    lines: tuple[LineState, ...]


def order_id_for(channel: str, external_id: str) -> str:
    """Deterministic, so every shard (and every retry) names an order the same way."""
    digest = hashlib.sha256(f"{channel}\x1f{external_id}".encode()).hexdigest()
    return f"ord_{digest[:24]}"


class StockDesk:
    def __init__(self, router: ShardRouter):
        self.router = router

    def shard(self, variant_id: int) -> int:
        return shard_of(variant_id, self.router.shard_count)

    async def stock_command(self, command: StockCommand) -> Result:
        return await self.router.submit(self.shard(command.variant_id), command)

    async def place_order(self, channel: Channel, external_id: str, lines: Sequence[tuple[int, int]],
                          actor: str | None = None) -> OrderOutcome | Failure:
        order_id = order_id_for(channel.name, external_id)
        by_shard: dict[int, list[LineRequest]] = defaultdict(list)
        for line_no, (variant_id, quantity) in enumerate(lines, start=1):
            by_shard[self.shard(variant_id)].append(LineRequest(line_no, variant_id, quantity))
        placed_at = time.time()
        signature = hashlib.sha256(repr(list(lines)).encode()).hexdigest()[:32]
        commands = {
            shard: PlaceOrder(order_id, channel.name, external_id, channel.policy, channel.locations,
                              tuple(reqs), placed_at, signature, actor)
            for shard, reqs in by_shard.items()
        }
        parts = await self._to_shards(dict(commands))
        if isinstance(parts, Failure):
            return parts
        if any(_has(part, REJECTED) for part in parts.values()):
            to_abort: dict[int, PlaceOrder | AbortOrder] = {
                s: AbortOrder(order_id, actor) for s, p in parts.items() if _has(p, OPEN)
            }
            aborted = await self._to_shards(to_abort)
            if isinstance(aborted, Failure):
                return aborted
            parts.update(aborted)
        return _merge(order_id, parts.values())

    async def fulfil(self, order_id: str, variant_ids: Iterable[int], actor: str | None = None
                     ) -> OrderOutcome | Failure:
        return await self._transition(order_id, variant_ids, FulfilOrder(order_id, actor))

    async def cancel(self, order_id: str, variant_ids: Iterable[int], actor: str | None = None
                     ) -> OrderOutcome | Failure:
        return await self._transition(order_id, variant_ids, CancelOrder(order_id, actor))

    async def abort(self, order_id: str, variant_ids: Iterable[int]) -> OrderOutcome | Failure:
        return await self._transition(order_id, variant_ids, AbortOrder(order_id, "recovery"))

    async def _transition(self, order_id: str, variant_ids: Iterable[int],
                          command: FulfilOrder | CancelOrder | AbortOrder) -> OrderOutcome | Failure:
        shards = {self.shard(v) for v in variant_ids}
        answers = await asyncio.gather(*(self.router.submit(s, command) for s in shards))
        failures = [a for a in answers if isinstance(a, Failure)]
        if failures:
            return failures[0]
        return _merge(order_id, [a for a in answers if isinstance(a, OrderPartState)])

    async def _to_shards(self, commands: dict[int, PlaceOrder | AbortOrder]
                         ) -> dict[int, OrderPartState] | Failure:
        shards = list(commands)
        answers = await asyncio.gather(*(self.router.submit(s, commands[s]) for s in shards))
        parts: dict[int, OrderPartState] = {}
        for shard, answer in zip(shards, answers, strict=True):
            if isinstance(answer, Failure):
                return answer
            if not isinstance(answer, OrderPartState):
                raise TypeError(f"shard {shard} answered an order part with {answer!r}")
            parts[shard] = answer
        return parts


def _has(part: OrderPartState, state: str) -> bool:
    return any(line.state == state for line in part.lines)


def _merge(order_id: str, parts: Iterable[OrderPartState]) -> OrderOutcome:
    parts = list(parts)
    lines = sorted((line for part in parts for line in part.lines), key=lambda line: line.line_no)
    return OrderOutcome(order_id, any(part.created for part in parts), tuple(lines))
