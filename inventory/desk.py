"""StockDesk: what callers use. Splits an order into one part per shard, sends the parts through the
router, and keeps an order whole: with the `reject` policy a part that was short rejects the whole
order, so the parts that did reserve are aborted (released) before anyone is answered."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from inventory.allocation import order_status
from inventory.commands import (
    AbortOrder,
    CancelOrder,
    Command,
    ConvertHold,
    Failure,
    FulfilOrder,
    InspectOrder,
    LineRequest,
    LineState,
    LineStatus,
    OrderPartState,
    PlaceOrder,
    Policy,
    Result,
    StockCommand,
)
from inventory.kits import Kit, KitLine, expand
from inventory.model import backordered_refusal
from inventory.partition import shard_of


class ShardUnavailable(Exception):
    """A shard could not answer; the command may or may not have been applied (a retry is safe)."""


class Router(Protocol):
    """How the desk reaches the shards (actors.router.ShardRouter): commands for one shard, answered
    in order, each after its commit."""

    shard_count: int

    async def submit(self, shard: int, command: Command) -> Result: ...

    async def submit_many(self, shard: int, commands: Sequence[Command]) -> list[Result]: ...

    async def close(self) -> None: ...


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
    placed_at: float = 0.0
    kit_lines: tuple[KitLine, ...] = ()  # which of `lines` make each kit line (inventory.kits.fold)


def order_id_for(channel: str, external_id: str) -> str:
    """Deterministic, so every shard (and every retry) names an order the same way."""
    digest = hashlib.sha256(f"{channel}\x1f{external_id}".encode()).hexdigest()
    return f"ord_{digest[:24]}"


OrderSeen = Callable[[str, str], None]  # channel, status: "refused", "duplicate" or the order's status


class KitPlans(Protocol):
    """Where an order's kit plan is kept (store.kits.record_plan), before its parts are placed."""

    async def __call__(self, order_id: str, signature: str, plan: Sequence[KitLine]) -> None: ...


class StockDesk:
    def __init__(self, router: Router, on_placed: OrderSeen | None = None,
                 kit_plans: KitPlans | None = None, deadline: float | None = None):
        """`on_placed` hears of every order this desk placed (a metrics counter); it must be cheap.
        `kit_plans` keeps the plan of an order with kit lines (without it, kits are refused).
        `deadline`: seconds an order may take in all (its wait behind a duplicate, its lead part,
        the others, an abort), else ShardUnavailable: each router call is bounded on its own, and
        an order makes up to three in a row."""
        self.router = router
        self._deadline = deadline
        self._on_placed = on_placed
        self._kit_plans = kit_plans
        self._placing: dict[str, asyncio.Future[None]] = {}

    def shard(self, variant_id: int) -> int:
        return shard_of(variant_id, self.router.shard_count)

    async def stock_command(self, command: StockCommand) -> Result:
        return await self.router.submit(self.shard(command.variant_id), command)

    async def stock_commands(self, commands: Iterable[StockCommand]) -> list[Result]:
        """Many at once (a stock-take, the demo's opening stock): one batch per shard."""
        by_shard: dict[int, list[StockCommand]] = defaultdict(list)
        for command in commands:
            by_shard[self.shard(command.variant_id)].append(command)
        answers = await asyncio.gather(*(self.router.submit_many(s, cs) for s, cs in by_shard.items()))
        return [answer for batch in answers for answer in batch]

    async def place_order(self, channel: Channel, external_id: str, lines: Sequence[tuple[int, int]],
                          actor: str | None = None, kits: Mapping[int, Kit] | None = None,
                          order_id: str | None = None) -> OrderOutcome | Failure:
        """Two requests for one order (a partner's duplicate delivery) are taken one after the
        other here, so every shard sees the first before the second (the replay). `order_id` names
        the order instead of channel + external id (a hold: inventory.holds).

        `kits`: the definitions of the kits among the lines' variants. A kit line is placed as its
        component lines, all in the one order, so the order's all-or-nothing rules, its replays and
        its recovery cover every component; the plan that folds them back is kept first (a plan
        whose order never got placed is never read)."""
        order_id = order_id or order_id_for(channel.name, external_id)

        async def place() -> OrderOutcome | Failure:
            expanded, plan = expand(lines, kits or {})
            return await self._place(order_id, channel, external_id, expanded, actor, plan)

        outcome = await self._within_deadline(self._one_at_a_time(order_id, place))
        if self._on_placed is not None:
            self._on_placed(channel.name, _status_label(outcome))
        return outcome

    async def convert_hold(self, hold_id: str, channel: Channel, external_id: str,
                           lines: Sequence[tuple[int, int]], pairs: Sequence[int], actor: str | None = None
                           ) -> OrderOutcome | Failure:
        """A new order that takes the units hold `hold_id` reserved: on each shard in one batch, so no
        other order can take them in between. `pairs[i]` is the hold's line number whose units line
        i + 1 takes (inventory.holds.pair_lines). Retried, it answers the order made the first time.
        A refusal on one shard does not undo another's conversion: the caller decides (service.holds)."""
        order_id = order_id_for(channel.name, external_id)
        by_shard: dict[int, list[LineRequest]] = defaultdict(list)
        for line_no, (variant_id, quantity) in enumerate(lines, start=1):
            by_shard[self.shard(variant_id)].append(LineRequest(line_no, variant_id, quantity))
        placed_at = time.time()

        def command(shard: int, seq: int) -> Command:
            reqs = by_shard[shard]
            place = PlaceOrder(order_id, channel.name, external_id, channel.policy, channel.locations,
                               tuple(reqs), placed_at, _signature(lines), actor, seq)
            return ConvertHold(place, hold_id, tuple((req.line_no, pairs[req.line_no - 1]) for req in reqs))

        async def convert() -> OrderOutcome | Failure:
            answers = await self._lead_first(list(by_shard), command)
            refusal = next((a for a in answers.values() if isinstance(a, Failure)), None)
            return refusal or _merge(order_id, _parts_only(answers), placed_at)

        outcome = await self._within_deadline(self._one_at_a_time(order_id, convert))
        if self._on_placed is not None:
            self._on_placed(channel.name, _status_label(outcome))
        return outcome

    async def _within_deadline(self, work: Awaitable[OrderOutcome | Failure]) -> OrderOutcome | Failure:
        """A retry of an order cut off here is safe: each part is keyed by the order's id, so what
        did reach a shard is replayed, and what did not is placed then."""
        if self._deadline is None:
            return await work
        try:
            async with asyncio.timeout(self._deadline):
                return await work
        except TimeoutError:
            raise ShardUnavailable(f"the order was not settled within {self._deadline:g} s") from None

    async def _one_at_a_time(self, order_id: str, work: Callable[[], Awaitable[OrderOutcome | Failure]]
                             ) -> OrderOutcome | Failure:
        while (earlier := self._placing.get(order_id)) is not None:
            await asyncio.shield(earlier)  # a waiter given up on (its deadline) must not cancel it
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._placing[order_id] = done
        try:
            return await work()
        finally:
            del self._placing[order_id]
            done.set_result(None)

    async def _place(self, order_id: str, channel: Channel, external_id: str,
                     lines: Sequence[tuple[int, int]], actor: str | None,
                     plan: tuple[KitLine, ...] = ()) -> OrderOutcome | Failure:
        by_shard: dict[int, list[LineRequest]] = defaultdict(list)
        for line_no, (variant_id, quantity) in enumerate(lines, start=1):
            by_shard[self.shard(variant_id)].append(LineRequest(line_no, variant_id, quantity))
        placed_at = time.time()
        signature = _signature(lines, plan)
        if plan:
            if self._kit_plans is None:
                return Failure("invalid", "lines: kits cannot be ordered here")
            await self._kit_plans(order_id, signature, plan)

        def command(shard: int, seq: int) -> Command:
            return PlaceOrder(order_id, channel.name, external_id, channel.policy, channel.locations,
                              tuple(by_shard[shard]), placed_at, signature, actor, seq)

        answers = await self._lead_first(list(by_shard), command)
        refusal = next((a for a in answers.values() if isinstance(a, Failure)), None)
        parts = _parts_only(answers)
        if refusal is not None:
            # Parts this very call created belong to no order anyone will be told of: undo them.
            made = {s: AbortOrder(order_id, actor) for s, p in parts.items() if p.created}
            await self._to_shards(made)
            return refusal
        if any(_has(part, LineStatus.REJECTED) for part in parts.values()):
            to_abort = {s: AbortOrder(order_id, actor) for s, p in parts.items() if _has(p, LineStatus.OPEN)}
            # an abort's answer never made the part: whether this call made it stays the place's
            aborted = _parts_only(await self._to_shards(to_abort))
            parts.update({s: part._replace(created=parts[s].created) for s, part in aborted.items()})
        return _merge(order_id, parts, placed_at, plan)

    async def _lead_first(self, shards: Sequence[int], command: Callable[[int, int], Command]
                          ) -> dict[int, Result]:
        """An order's parts, its lowest shard's (the lead's) before the others': the lead decides the
        order's storage key (seq, which every part's lines hang off) and whether this call made the
        order. So the same order placed by two processes at once (a duplicate delivery reaching two
        web workers) is made once: the lead takes one first and answers the other as a replay, and
        the other parts carry the lead's key whichever process reaches a shard first. `command(shard,
        seq)` is a shard's part (seq 0: the lead picks the key). Costs an order that spans shards one
        more round trip; an order on one shard (most) goes as before."""
        lead, *rest = sorted(shards)
        first = await self.router.submit(lead, command(lead, 0))
        if not isinstance(first, OrderPartState) or not rest:
            return {lead: first}
        return {lead: first, **await self._to_shards({s: command(s, first.seq) for s in rest})}
    async def fulfil(self, order_id: str, variant_ids: Iterable[int], actor: str | None = None
                     ) -> OrderOutcome | Failure:
        """An order split over shards ships only whole: every part is inspected first, so one part
        still waiting for stock stops the others from shipping. (A cancel racing this fulfil can
        still land between the two steps on one part.)"""
        variant_ids = list(variant_ids)
        if len({self.shard(v) for v in variant_ids}) > 1:
            inspected = await self._transition(order_id, variant_ids, InspectOrder(order_id))
            if isinstance(inspected, Failure):
                return inspected
            refusal = backordered_refusal(order_id, inspected.lines)
            if refusal is not None:
                return refusal
        return await self._transition(order_id, variant_ids, FulfilOrder(order_id, actor))

    async def cancel(self, order_id: str, variant_ids: Iterable[int], actor: str | None = None
                     ) -> OrderOutcome | Failure:
        return await self._transition(order_id, variant_ids, CancelOrder(order_id, actor))

    async def abort(self, order_id: str, variant_ids: Iterable[int]) -> OrderOutcome | Failure:
        return await self._transition(order_id, variant_ids, AbortOrder(order_id, "recovery"))

    async def _transition(self, order_id: str, variant_ids: Iterable[int],
                          command: FulfilOrder | CancelOrder | AbortOrder | InspectOrder
                          ) -> OrderOutcome | Failure:
        shards = sorted({self.shard(v) for v in variant_ids})
        answers = await self._each(shards, lambda shard: command)
        failures = [a for a in answers if isinstance(a, Failure)]
        if failures:
            return failures[0]
        return _merge(order_id, {s: a for s, a in zip(shards, answers, strict=True)
                                 if isinstance(a, OrderPartState)})

    async def _to_shards(self, commands: Mapping[int, Command]) -> dict[int, Result]:
        shards = list(commands)
        answers = await self._each(shards, commands.__getitem__)
        return dict(zip(shards, answers, strict=True))

    async def _each(self, shards: Sequence[int] | set[int], command_for: Callable[[int], Command]
                    ) -> list[Result]:
        """One command per shard, concurrently; most orders touch one shard, which needs no task."""
        shards = list(shards)
        if len(shards) == 1:
            return [await self.router.submit(shards[0], command_for(shards[0]))]
        return list(await asyncio.gather(*(self.router.submit(s, command_for(s)) for s in shards)))


def _signature(lines: Sequence[tuple[int, int]], plan: Sequence[KitLine] = ()) -> str:
    """Of the whole order's lines (and its kit lines, when it has any: orders without kits keep the
    signature they always had)."""
    signed = repr(list(lines)) if not plan else repr((list(lines), plan))
    return hashlib.sha256(signed.encode()).hexdigest()[:32]


def _has(part: OrderPartState, state: LineStatus) -> bool:
    return any(line.state == state for line in part.lines)


def _parts_only(answers: dict[int, Result]) -> dict[int, OrderPartState]:
    return {s: a for s, a in answers.items() if isinstance(a, OrderPartState)}


def _merge(order_id: str, parts: Mapping[int, OrderPartState], placed_at: float = 0.0,
           plan: tuple[KitLine, ...] = ()) -> OrderOutcome:
    """Whether the order was made here is its lead part's (the lowest shard's) answer alone: another
    part may have been made by this call for an order another process made first (_lead_first)."""
    lines = sorted((line for part in parts.values() for line in part.lines), key=lambda line: line.line_no)
    created = parts[min(parts)].created if parts else False
    return OrderOutcome(order_id, created, tuple(lines), placed_at, plan)


def _status_label(outcome: OrderOutcome | Failure) -> str:
    if isinstance(outcome, Failure):
        return "refused"
    return order_status(outcome.lines).value if outcome.created else "duplicate"
