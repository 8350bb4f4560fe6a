"""Partner order events become orders, fulfilments and cancellations through the stock engine. The
one path for webhooks and polling alike: the same fact seen twice is one order (the order id is
derived from channel + the partner's order id) and its event id is recorded after the commit.

Lifecycle: created → reserve (or backorder, by the channel's policy); shipped → fulfil; cancelled →
cancel; an in-store sale → reserve and fulfil at once. An order for stock that is gone raises an
alert, and under `reject` is cancelled at the partner where the partner allows it.

An order that can never apply as it stands (a line with no SKU, a quantity below 0 or over the
REST API's cap, no SKU we carry) is not sent to the shards, so it cannot fail a group commit; it is
reported as a dead letter and the events after it are taken all the same."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from connectors.base import LineAnswer, OrderAnswer, OrderEvent, OrderEventKind, OrderLine
from inventory.allocation import order_status
from inventory.commands import Failure, LineStatus
from inventory.desk import Channel, OrderOutcome, StockDesk, order_id_for
from inventory.kits import ClientLine, fold
from store.catalog import Catalog
from sync.calls import Alert

log = logging.getLogger(__name__)
MAX_LINE_QUANTITY = 10**9   # the REST API's cap on a quantity (web.validation): a partner gets no more
StoredVariants = Callable[[str], Awaitable[list[int] | None]]  # order id → its variant ids


@dataclass
class IntakeReport:
    applied: int = 0
    rejected: list[str] = field(default_factory=list)     # partner order ids we could not fill
    problems: list[str] = field(default_factory=list)
    answers: list[OrderAnswer] = field(default_factory=list)   # new orders, line by line
    dead: list[tuple[OrderEvent, str]] = field(default_factory=list)   # events set aside, and why


class UnusableOrder(Exception):
    """The order cannot apply as it stands; retrying it unchanged will not help."""


class OrderIntake:
    def __init__(self, partner_id: str, channel: Channel, desk: StockDesk, catalog: Catalog,
                 stored_variants: StoredVariants, alert: Alert):
        self.partner_id, self.channel = partner_id, channel
        self._desk, self._catalog = desk, catalog
        self._stored_variants, self._alert = stored_variants, alert
        self.actor = f"partner:{partner_id}"

    async def take(self, events: Sequence[OrderEvent]) -> IntakeReport:
        report = IntakeReport()
        for event in events:
            try:
                await self._take(event, report)
            except UnusableOrder as exc:
                report.dead.append((event, str(exc)))
                report.problems.append(f"{event.event_id}: {exc}")
            except Exception as exc:
                log.exception("%s: event %s failed", self.partner_id, event.event_id)
                report.problems.append(f"{event.event_id}: {exc}")
                raise
        return report

    async def _take(self, event: OrderEvent, report: IntakeReport) -> None:
        if event.kind in (OrderEventKind.CREATED, OrderEventKind.SALE):
            outcome = await self._place(event, report)
            if outcome is not None and event.kind is OrderEventKind.SALE:
                await self._fulfil(event, [line.variant_id for line in outcome.lines], report)
        elif event.kind is OrderEventKind.SHIPPED:
            variant_ids = await self._stored_variants(self._order_id(event))
            if variant_ids is None and event.lines:
                outcome = await self._place(event, report)
                variant_ids = None if outcome is None else [line.variant_id for line in outcome.lines]
            if variant_ids:
                await self._fulfil(event, variant_ids, report)
        elif event.kind is OrderEventKind.CANCELLED:
            variant_ids = await self._stored_variants(self._order_id(event))
            if variant_ids is None and event.lines:
                # Cancelled before we saw it created (events can arrive out of order): record it,
                # then cancel it, so a late "created" is a replay of a cancelled order, not a sale.
                outcome = await self._place(event, report, quiet=True)
                variant_ids = None if outcome is None else [line.variant_id for line in outcome.lines]
            if variant_ids:
                done = await self._desk.cancel(self._order_id(event), variant_ids, self.actor)
                self._count(done, event, report, ok_codes=("order_cancelled", "order_rejected"))
        report.applied += 1

    def _order_id(self, event: OrderEvent) -> str:
        return order_id_for(self.channel.name, event.order_id)

    async def _lines(self, event: OrderEvent) -> list[tuple[int, int, str] | None]:
        """Each event line as (variant id, quantity, our SKU), None where no product matched: that
        line is not taken, the others are. A malformed line makes the whole order unusable."""
        for number, line in enumerate(event.lines, start=1):
            if not line.named or not 0 <= line.quantity <= MAX_LINE_QUANTITY:
                raise UnusableOrder(f"line {number} is malformed (sku {line.sku!r}, quantity "
                                    f"{line.quantity}; a quantity is a whole number from 0 to "
                                    f"{MAX_LINE_QUANTITY})")
        lines: list[tuple[int, int, str] | None] = []
        for line in event.lines:
            found = await self._variant_of(line)
            if found is None:
                await self._alert("unknown_sku", f"{self.partner_id}:{line.named}",
                                  f"{self.partner_id} order {event.order_id} names sku {line.sku!r}"
                                  f"{f' (GTIN {line.gtin})' if line.gtin else ''}, "
                                  "which is not in the catalog; that line was not taken")
            usable = found is not None and line.quantity > 0
            lines.append((found[0], line.quantity, found[1]) if usable and found is not None else None)
        return lines

    async def _variant_of(self, line: OrderLine) -> tuple[int, str] | None:
        """(variant id, SKU): our SKU first, then the GTIN, then the partner's own part number's
        cross-reference."""
        if line.sku and (found := await self._catalog.variant_id(line.sku)) is not None:
            return found, line.sku
        if line.gtin and (by_gtin := await self._catalog.variant_by_gtin(line.gtin)) is not None:
            return by_gtin
        if line.alternate_sku and (found := await self._catalog.variant_id(line.alternate_sku)) is not None:
            return found, line.alternate_sku
        return None

    async def _place(self, event: OrderEvent, report: IntakeReport, quiet: bool = False
                     ) -> OrderOutcome | None:
        found = await self._lines(event)
        lines = [(line[0], line[1]) for line in found if line is not None]
        if not lines:
            report.problems.append(f"{event.event_id}: no line we know")
            unknown = [line.named for line, match in zip(event.lines, found, strict=True)
                       if match is None and line.quantity]
            if unknown:  # the SKU may be added later: kept for a retry, not dropped
                report.dead.append((event, f"no line we know: {', '.join(unknown)} not in the catalog"))
            self._answer(event, found, (), report, quiet)
            return None
        kits = await self._catalog.kits_among(variant_id for variant_id, _ in lines)
        outcome = await self._desk.place_order(self.channel, event.order_id, lines, self.actor, kits)
        if isinstance(outcome, Failure):
            report.problems.append(f"{event.event_id}: {outcome.message}")
            return None
        self._answer(event, found, fold(outcome.lines, outcome.kit_lines), report, quiet)
        status = order_status(outcome.lines)
        if quiet:
            return None if status == "rejected" else outcome
        if status == "rejected":
            report.rejected.append(event.order_id)
            if outcome.created:
                await self._alert("oversell", f"{self.partner_id}:{event.order_id}",
                                  f"{self.partner_id} order {event.order_id} asked for stock that is gone; "
                                  f"rejected under the {self.channel.policy} policy")
            return None
        if status in ("backordered", "partially_backordered") and outcome.created:
            await self._alert("backorder", f"{self.partner_id}:{event.order_id}",
                              f"{self.partner_id} order {event.order_id} is {status.replace('_', ' ')}")
        return outcome

    def _answer(self, event: OrderEvent, found: list[tuple[int, int, str] | None],
                placed: Sequence[ClientLine], report: IntakeReport, quiet: bool) -> None:
        """Line by line, for a new order: the placed lines come back in the order they were given
        (a kit line folded back from its components)."""
        if quiet or event.kind is not OrderEventKind.CREATED:
            return
        states = iter(placed)
        answers = []
        for line, taken in zip(event.lines, found, strict=True):
            state = next(states, None) if taken is not None else None
            if state is None or taken is None:
                answers.append(LineAnswer("", rejected=line.quantity))
            elif state.state == LineStatus.REJECTED:
                answers.append(LineAnswer(taken[2], rejected=line.quantity))
            else:
                answers.append(LineAnswer(taken[2], state.reserved, state.backordered))
        report.answers.append(OrderAnswer(event.event_id, event.order_id, tuple(answers)))

    async def _fulfil(self, event: OrderEvent, variant_ids: list[int], report: IntakeReport) -> None:
        done = await self._desk.fulfil(self._order_id(event), variant_ids, self.actor)
        self._count(done, event, report, ok_codes=("order_fulfilled",))

    def _count(self, done: OrderOutcome | Failure, event: OrderEvent, report: IntakeReport,
               ok_codes: tuple[str, ...]) -> None:
        if isinstance(done, Failure) and done.code not in ok_codes:  # ok_codes: it already happened
            report.problems.append(f"{event.event_id}: {done.message}")
