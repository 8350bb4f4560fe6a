"""StockBook: one shard's stock and open orders, and the rules that change them.

Plain Python so it is tested without Ray or a database. The shard actor owns one book and applies
commands to it one at a time; every change is also recorded in a `Changes` for the group commit.
Invariant kept here and by the store's CHECK constraints: 0 <= reserved <= on_hand everywhere.
"""

from __future__ import annotations

from inventory.allocation import allocate
from inventory.backorders import Backorders
from inventory.commands import (
    AbortOrder,
    Adjust,
    CancelOrder,
    Command,
    ConvertHold,
    Failure,
    FulfilOrder,
    InspectOrder,
    LineStatus,
    PlaceOrder,
    Receive,
    Result,
    Transfer,
    VariantStock,
)
from inventory.model import Changes, LedgerEntry, Level, Line, OrderPart, backordered_refusal
from inventory.partition import OrderSeqs


class StockBook:
    def __init__(self, seqs: OrderSeqs | None = None) -> None:
        self.seqs = seqs or OrderSeqs(0)
        self.levels: dict[int, dict[int, Level]] = {}
        self.parts: dict[str, OrderPart] = {}
        self.backorders = Backorders()
        self._next_sweep = 0
        # orders the store holds without a part on this shard (filled per batch)
        self.stored_orders: dict[str, tuple[str, int]] = {}  # order id -> (signature, seq)

    # -- loading ---------------------------------------------------------------------------------

    def load_level(self, variant_id: int, location_id: int, on_hand: int, reserved: int) -> None:
        self.levels.setdefault(variant_id, {})[location_id] = Level(on_hand, reserved)

    def load_part(self, part: OrderPart) -> None:
        self.parts[part.order_id] = part
        for line in part.lines:
            if line.state == LineStatus.OPEN and line.backordered > 0:
                self._queue_backorder(part, line)

    def forget_closed_parts(self, keep: int) -> None:
        """Bound memory: closed parts are answered from the store after this. Amortised: a sweep
        runs only after `keep` more parts have arrived."""
        if len(self.parts) < self._next_sweep:
            return
        closed = [oid for oid, part in self.parts.items() if not part.is_open]
        for order_id in closed[: max(0, len(closed) - keep)]:
            del self.parts[order_id]
        self._next_sweep = len(self.parts) + keep

    # -- reading ---------------------------------------------------------------------------------

    def level(self, variant_id: int, location_id: int) -> Level:
        levels = self.levels.get(variant_id)
        if levels is None:
            levels = self.levels[variant_id] = {}
        level = levels.get(location_id)
        if level is None:
            level = levels[location_id] = Level()
        return level

    def stock_of(self, variant_id: int) -> VariantStock:
        levels = self.levels.get(variant_id, {})
        waiting = sum(
            self.parts[oid].line(no).backordered for _, oid, no in self.backorders.get(variant_id, ())
        )
        return VariantStock(
            variant_id, {loc: (lv.on_hand, lv.reserved) for loc, lv in levels.items()}, waiting
        )

    # -- applying --------------------------------------------------------------------------------

    def apply(self, command: Command, changes: Changes) -> Result:
        match command:
            case Receive():
                return self._receive(command, changes)
            case Adjust():
                return self._adjust(command, changes)
            case Transfer():
                return self._transfer(command, changes)
            case PlaceOrder():
                return self._place(command, changes)
            case FulfilOrder():
                return self._fulfil(command, changes)
            case CancelOrder() | AbortOrder():
                return self._release_order(command, changes)
            case ConvertHold():
                return self._convert(command, changes)
            case InspectOrder():
                part = self.parts.get(command.order_id)
                if part is None:
                    return _no_order(command.order_id)
                return part.snapshot(created=False)
        raise TypeError(f"unknown command {command!r}")

    def _receive(self, cmd: Receive, changes: Changes) -> Result:
        self._move(changes, cmd.variant_id, cmd.location_id, "receipt", cmd.quantity, 0,
                   reference=cmd.reference, actor=cmd.actor, command_id=cmd.command_id)
        self._fill_backorders(cmd.variant_id, changes)
        return self.stock_of(cmd.variant_id)

    def _adjust(self, cmd: Adjust, changes: Changes) -> Result:
        if (cmd.delta is None) == (cmd.counted is None):
            return Failure("invalid_adjustment", "delta: give either delta or count")
        level = self.level(cmd.variant_id, cmd.location_id)
        delta = cmd.delta if cmd.delta is not None else (cmd.counted or 0) - level.on_hand
        if level.on_hand + delta < level.reserved:
            return Failure(
                "below_reserved",
                f"delta: on_hand would be {level.on_hand + delta}, below the {level.reserved} "
                "units reserved for orders; cancel or fulfil them first",
            )
        if delta:
            self._move(changes, cmd.variant_id, cmd.location_id, "adjustment", delta, 0,
                       reason=cmd.reason, note=cmd.note, actor=cmd.actor,
                       command_id=cmd.command_id)
        if delta > 0:
            self._fill_backorders(cmd.variant_id, changes)
        return self.stock_of(cmd.variant_id)

    def _transfer(self, cmd: Transfer, changes: Changes) -> Result:
        source = self.level(cmd.variant_id, cmd.from_location_id)
        if source.available < cmd.quantity:
            return Failure(
                "insufficient_stock",
                f"quantity: {cmd.quantity} requested but only {source.available} available "
                "at from_location",
            )
        common = {"reference": cmd.reference, "actor": cmd.actor, "command_id": cmd.command_id}
        self._move(changes, cmd.variant_id, cmd.from_location_id, "transfer_out",
                   -cmd.quantity, 0, **common)
        self._move(changes, cmd.variant_id, cmd.to_location_id, "transfer_in",
                   cmd.quantity, 0, **common)
        self._fill_backorders(cmd.variant_id, changes)
        return self.stock_of(cmd.variant_id)

    def _place(self, cmd: PlaceOrder, changes: Changes) -> Result:
        known = self.parts.get(cmd.order_id)
        stored = self.stored_orders.get(cmd.order_id)
        signature = known.signature if known else (stored[0] if stored else None)
        if signature is not None and signature != cmd.signature:
            return Failure("external_id_reused", f"external_id: {cmd.external_id!r} was already used on "
                           f"channel {cmd.channel!r} for an order with other lines")
        if known is not None:
            return known.snapshot(created=False)
        plans = self._plan(cmd)
        short = any(backordered for _, backordered in plans)
        lines = [Line(req.line_no, req.variant_id, req.quantity) for req in cmd.lines]
        part = OrderPart(cmd.order_id, cmd.channel, cmd.external_id, cmd.policy,
                         cmd.locations, cmd.placed_at, lines, cmd.signature,
                         # another shard stored this order first: its lines hang off that key
                         stored[1] if stored else (cmd.seq or self.seqs.next()))
        self.parts[part.order_id] = part
        changes.add_part(part)
        for line, (taken, backordered) in zip(lines, plans, strict=True):
            if short and cmd.policy == "reject":
                line.state = LineStatus.REJECTED
            else:
                self._reserve(part, line, taken, changes, cmd.actor)
                line.backordered = backordered
                if backordered:
                    self._queue_backorder(part, line)
        return part.snapshot(created=True)

    def _plan(self, cmd: PlaceOrder) -> list[tuple[dict[int, int], int]]:
        """Every line's allocation, counting earlier lines of the same variant; nothing applied."""
        free: dict[tuple[int, int], int] = {}  # what earlier lines of this order left
        plans = []
        for req in cmd.lines:
            levels = self.levels.get(req.variant_id, {})
            offer = (
                (loc, free.get((req.variant_id, loc), level.on_hand - level.reserved))
                for loc in cmd.locations
                if (level := levels.get(loc)) is not None
            )
            taken, backordered = allocate(offer, req.quantity)
            for loc, quantity in taken.items():
                key = (req.variant_id, loc)
                free[key] = free.get(key, levels[loc].on_hand - levels[loc].reserved) - quantity
            plans.append((taken, backordered))
        return plans

    def _fulfil(self, cmd: FulfilOrder, changes: Changes) -> Result:
        part = self.parts.get(cmd.order_id)
        if part is None:
            return _no_order(cmd.order_id)
        refusal = _refusal(part, allowed_closed=LineStatus.FULFILLED) or backordered_refusal(
            part.order_id, part.lines)
        if refusal is not None:
            return refusal
        for line in part.lines:
            if line.state != LineStatus.OPEN:
                continue
            for loc, quantity in line.allocations.items():
                if quantity:
                    self._move(changes, line.variant_id, loc, "fulfil", -quantity, -quantity,
                               reference=part.order_id, actor=cmd.actor)
            line.state = LineStatus.FULFILLED
            changes.touch_line(part, line)
        return part.snapshot(created=False)

    def _release_order(self, cmd: CancelOrder | AbortOrder, changes: Changes) -> Result:
        part = self.parts.get(cmd.order_id)
        if part is None:
            return _no_order(cmd.order_id)
        final = LineStatus.CANCELLED if isinstance(cmd, CancelOrder) else LineStatus.REJECTED
        refusal = _refusal(part, allowed_closed=final)
        if refusal is not None and isinstance(cmd, CancelOrder):
            return refusal
        released: set[int] = set()
        for line in part.lines:
            if line.state != LineStatus.OPEN:
                continue
            for loc, quantity in line.allocations.items():
                if quantity:
                    self._move(changes, line.variant_id, loc, "release", 0, -quantity,
                               reference=part.order_id, actor=cmd.actor)
                    released.add(line.variant_id)
            line.allocations.clear()
            if line.backordered:
                self._unqueue_backorder(part, line)
                line.backordered = 0
            line.state = final
            changes.touch_line(part, line)
        for variant_id in released:
            self._fill_backorders(variant_id, changes)
        return part.snapshot(created=False)

    def _convert(self, cmd: ConvertHold, changes: Changes) -> Result:
        """The hold's units move to the new order at the same locations: a release entry referencing
        the hold, a reserve entry referencing the order, in this one batch."""
        place, hold = cmd.place, self.parts.get(cmd.hold_id)
        known, stored = self.parts.get(place.order_id), self.stored_orders.get(place.order_id)
        if known is not None and not (hold is not None and hold.is_open):
            return known.snapshot(created=False)  # made from this hold already: a replay
        if known is not None or (stored is not None and stored[0] != place.signature):
            return Failure("external_id_reused", f"external_id: {place.external_id!r} was already used on "
                           f"channel {place.channel!r} for an order not made from hold {cmd.hold_id}")
        refusal = _conversion_refusal(cmd, hold)
        if refusal is not None or hold is None:
            return refusal or _no_order(cmd.hold_id)
        pairs, lines = dict(cmd.pairs), list[Line]()
        part = OrderPart(place.order_id, place.channel, place.external_id, place.policy, place.locations,
                         place.placed_at, lines, place.signature,
                         stored[1] if stored else (place.seq or self.seqs.next()))
        self.parts[part.order_id] = part
        changes.add_part(part)
        for req in place.lines:
            held = hold.line(pairs[req.line_no])
            for loc, quantity in held.allocations.items():
                self._move(changes, held.variant_id, loc, "release", 0, -quantity, reference=hold.order_id,
                           actor=place.actor)
            line = Line(req.line_no, req.variant_id, req.quantity)
            self._reserve(part, line, dict(held.allocations), changes, place.actor)
            lines.append(line)
            held.allocations.clear()
            held.state = LineStatus.CANCELLED
            changes.touch_line(hold, held)
        return part.snapshot(created=True)

    # -- mechanics -------------------------------------------------------------------------------

    def _move(self, changes: Changes, variant_id: int, location_id: int, kind: str,
              delta_on_hand: int, delta_reserved: int, *, reason: str | None = None,
              reference: str | None = None, note: str | None = None, actor: str | None = None,
              command_id: str | None = None) -> None:
        level = self.level(variant_id, location_id)
        level.on_hand += delta_on_hand
        level.reserved += delta_reserved
        if not 0 <= level.reserved <= level.on_hand:  # the rules above must make this impossible
            raise RuntimeError(f"stock invariant broken at ({variant_id}, {location_id})")
        changes.levels.add((variant_id, location_id))
        changes.ledger.append(LedgerEntry(variant_id, location_id, kind, delta_on_hand, delta_reserved,
                                          reason, reference, note, actor, command_id))

    def _reserve(self, part: OrderPart, line: Line, taken: dict[int, int], changes: Changes,
                 actor: str | None) -> None:
        for loc, quantity in taken.items():
            self._move(changes, line.variant_id, loc, "reserve", 0, quantity,
                       reference=part.order_id, actor=actor)
            line.allocations[loc] = line.allocations.get(loc, 0) + quantity

    def _fill_backorders(self, variant_id: int, changes: Changes) -> None:
        levels = self.levels.get(variant_id, {})
        for entry in self.backorders.oldest_first(variant_id):
            if not any(level.available > 0 for level in levels.values()):
                return
            _, order_id, line_no = entry
            part = self.parts[order_id]
            line = part.line(line_no)
            offer = [(loc, levels[loc].available) for loc in part.locations if loc in levels]
            taken, short = allocate(offer, line.backordered)
            if not taken:
                continue
            self._reserve(part, line, taken, changes, "backorder-fill")
            line.backordered = short
            changes.touch_line(part, line)
            if short == 0:
                self._unqueue_backorder(part, line)

    def _queue_backorder(self, part: OrderPart, line: Line) -> None:
        self.backorders.add(line.variant_id, (part.placed_at, part.order_id, line.line_no))

    def _unqueue_backorder(self, part: OrderPart, line: Line) -> None:
        self.backorders.drop(line.variant_id, (part.placed_at, part.order_id, line.line_no))


def _refusal(part: OrderPart, allowed_closed: LineStatus) -> Failure | None:
    """Why a closed order cannot take this transition; None when it can (or already did)."""
    for line in part.lines:
        if line.state not in (LineStatus.OPEN, allowed_closed):
            return Failure(f"order_{line.state}", f"order {part.order_id} is {line.state}")
    return None


def _conversion_refusal(cmd: ConvertHold, hold: OrderPart | None) -> Failure | None:
    """Why this shard's part of the hold cannot become the order as asked; None when it can."""
    if hold is None or not hold.is_open:
        return Failure("hold_not_held", f"hold_id: hold {cmd.hold_id} no longer holds its units")
    held = {line.line_no: line for line in hold.lines}
    pairs = dict(cmd.pairs)
    wanted = [(req, held.get(pairs.get(req.line_no, -1))) for req in cmd.place.lines]
    if sorted(pairs.values()) != sorted(held) or len(pairs) != len(cmd.place.lines) or any(
            line is None or line.state != LineStatus.OPEN or line.backordered
            or (line.variant_id, line.quantity) != (req.variant_id, req.quantity) for req, line in wanted):
        return Failure("hold_lines_differ", f"lines: not the lines of hold {cmd.hold_id}")
    return None


def _no_order(order_id: str) -> Failure:
    return Failure("not_found", f"order {order_id} does not exist")
