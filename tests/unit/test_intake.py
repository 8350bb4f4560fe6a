"""service/intake: partner order events become desk calls. A fake desk keeps orders in a dict and
answers as the real one does (OrderOutcome, or a Failure with the shard's codes); a fake catalog and
a recording alert stand in for the store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from connectors.base import OrderEvent, OrderEventKind, OrderLine
from inventory.commands import Failure, LineState, LineStatus, Policy
from inventory.desk import Channel, OrderOutcome, order_id_for
from sync.intake import OrderIntake

SKUS = {"SHEET-Q-WHITE": 1, "SHEET-K-GREY": 2, "DUVET-Q": 3}
HERE = 7  # the one location of the fake
OPEN, FULFILLED, CANCELLED, REJECTED = LineStatus.OPEN, LineStatus.FULFILLED, LineStatus.CANCELLED, LineStatus.REJECTED


class FakeCatalog:
    async def variant_id(self, sku: str) -> int | None:
        return SKUS.get(sku)

    async def kits_among(self, variant_ids: Iterable[int]) -> dict[int, Any]:
        return {}


class FakeDesk:
    def __init__(self, stock: dict[int, int]):
        self.stock = stock
        self.orders: dict[str, list[LineState]] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.refuse: Failure | None = None
        self.broken: Exception | None = None  # raised by fulfil, as a lost shard would

    async def place_order(self, channel: Channel, external_id: str, lines: Sequence[tuple[int, int]],
                          actor: str | None = None, kits: Any = None) -> OrderOutcome | Failure:
        self.calls.append(("place", channel.name, external_id, list(lines), actor))
        if self.refuse is not None:
            return self.refuse
        order_id = order_id_for(channel.name, external_id)
        if order_id in self.orders:
            return OrderOutcome(order_id, False, tuple(self.orders[order_id]))
        states = []
        for line_no, (variant, quantity) in enumerate(lines, start=1):
            have = self.stock.get(variant, 0)
            taken = min(have, quantity) if channel.policy == "backorder" else (quantity if have >= quantity else 0)
            short = quantity - taken
            state = REJECTED if short and channel.policy == "reject" else OPEN
            states.append(LineState(line_no, variant, quantity, {HERE: taken} if taken else {},
                                    short if state == OPEN else 0, state))
        if any(s.state == REJECTED for s in states):
            states = [s._replace(allocations={}, state=REJECTED) for s in states]
        for s in states:
            self.stock[s.variant_id] = self.stock.get(s.variant_id, 0) - s.reserved
        self.orders[order_id] = states
        return OrderOutcome(order_id, True, tuple(states))

    async def fulfil(self, order_id: str, variant_ids: Iterable[int], actor: str | None = None
                     ) -> OrderOutcome | Failure:
        if self.broken is not None:
            raise self.broken
        return self._move(("fulfil", order_id, sorted(variant_ids), actor), order_id, FULFILLED)

    async def cancel(self, order_id: str, variant_ids: Iterable[int], actor: str | None = None
                     ) -> OrderOutcome | Failure:
        return self._move(("cancel", order_id, sorted(variant_ids), actor), order_id, CANCELLED)

    def _move(self, call: tuple[Any, ...], order_id: str, to: str) -> OrderOutcome | Failure:
        self.calls.append(call)
        lines = self.orders.get(order_id)
        if lines is None:
            return Failure("not_found", f"order {order_id} does not exist", 404)
        if all(line.state == REJECTED for line in lines):
            return Failure("order_rejected", f"order {order_id} was rejected")
        if all(line.state == to for line in lines):
            return Failure(f"order_{to}", f"order {order_id} is already {to}")
        if to == FULFILLED and any(line.backordered for line in lines):
            return Failure("order_backordered", f"order {order_id} still has backordered units")
        self.orders[order_id] = [line._replace(state=to) for line in lines]
        return OrderOutcome(order_id, False, tuple(self.orders[order_id]))

    def kinds(self) -> list[str]:
        return [call[0] for call in self.calls]


class Alerts:
    def __init__(self) -> None:
        self.raised: list[tuple[str, str, str]] = []

    async def __call__(self, kind: str, key: str, message: str) -> None:
        self.raised.append((kind, key, message))


def make(policy: Policy = "reject", stock: dict[int, int] | None = None, partner: str = "shopify"
         ) -> tuple[OrderIntake, FakeDesk, Alerts]:
    desk = FakeDesk({1: 10, 2: 10, 3: 10} if stock is None else stock)
    alerts = Alerts()

    async def stored_variants(order_id: str) -> list[int] | None:
        lines = desk.orders.get(order_id)
        return None if lines is None else [line.variant_id for line in lines]

    channel = Channel(partner, policy, (HERE,))
    intake = OrderIntake(partner, channel, desk, FakeCatalog(), stored_variants, alerts)  # type: ignore[arg-type]
    return intake, desk, alerts


def event(kind: OrderEventKind, order: str, *lines: tuple[str, int], event_id: str | None = None) -> OrderEvent:
    return OrderEvent(event_id or f"{order}:{kind}", kind, order, tuple(OrderLine(s, q) for s, q in lines))


CREATED, SHIPPED, CANCELLED_EV, SALE = (OrderEventKind.CREATED, OrderEventKind.SHIPPED,
                                        OrderEventKind.CANCELLED, OrderEventKind.SALE)


async def test_a_created_order_reserves_its_lines_in_the_partners_name() -> None:
    intake, desk, alerts = make()
    report = await intake.take([event(CREATED, "S-1", ("SHEET-Q-WHITE", 2), ("DUVET-Q", 1))])
    assert desk.calls == [("place", "shopify", "S-1", [(1, 2), (3, 1)], "partner:shopify")]
    assert (report.applied, report.rejected, report.problems, alerts.raised) == (1, [], [], [])
    assert desk.stock == {1: 8, 2: 10, 3: 9}


async def test_the_same_created_event_twice_is_one_order() -> None:
    intake, desk, alerts = make()
    for _ in range(2):
        report = await intake.take([event(CREATED, "S-1", ("SHEET-Q-WHITE", 2))])
        assert (report.applied, report.problems) == (1, [])
    assert desk.stock[1] == 8
    assert alerts.raised == []


async def test_a_rejected_partner_order_raises_an_oversell_alert_once() -> None:
    intake, desk, alerts = make(stock={1: 1})
    for _ in range(2):
        report = await intake.take([event(CREATED, "S-9", ("SHEET-Q-WHITE", 2))])
        assert report.rejected == ["S-9"]
    assert [(kind, key) for kind, key, _ in alerts.raised] == [("oversell", "shopify:S-9")]
    assert "rejected under the reject policy" in alerts.raised[0][2]
    assert desk.stock[1] == 1


async def test_a_backordered_order_raises_a_backorder_alert_once() -> None:
    intake, _, alerts = make(policy="backorder", stock={1: 0}, partner="amazon")
    for _ in range(2):
        report = await intake.take([event(CREATED, "A-5", ("SHEET-Q-WHITE", 3))])
        assert (report.rejected, report.problems) == ([], [])
    assert alerts.raised == [("backorder", "amazon:A-5", "amazon order A-5 is backordered")]


async def test_a_partly_backordered_order_says_so_in_its_alert() -> None:
    intake, _, alerts = make(policy="backorder", stock={1: 1}, partner="etsy")
    await intake.take([event(CREATED, "E-2", ("SHEET-Q-WHITE", 3))])
    assert alerts.raised == [("backorder", "etsy:E-2", "etsy order E-2 is partially backordered")]


async def test_an_unknown_sku_is_alerted_and_the_rest_of_the_order_is_taken() -> None:
    intake, desk, alerts = make()
    report = await intake.take([event(CREATED, "S-3", ("PILLOW-NOPE", 1), ("SHEET-K-GREY", 1))])
    assert desk.calls[0][3] == [(2, 1)]
    assert [(kind, key) for kind, key, _ in alerts.raised] == [("unknown_sku", "shopify:PILLOW-NOPE")]
    assert "'PILLOW-NOPE'" in alerts.raised[0][2]
    assert report.problems == []


async def test_an_order_with_no_line_we_know_is_a_problem_and_never_reaches_the_desk() -> None:
    intake, desk, _ = make()
    report = await intake.take([event(CREATED, "S-4", ("PILLOW-NOPE", 1), event_id="evt-4")])
    assert desk.calls == []
    assert (report.applied, report.problems) == (1, ["evt-4: no line we know"])


async def test_lines_with_no_quantity_are_dropped() -> None:
    intake, desk, _ = make()
    await intake.take([event(CREATED, "S-5", ("SHEET-Q-WHITE", 0), ("DUVET-Q", 2))])
    assert desk.calls[0][3] == [(3, 2)]


async def test_a_refusal_from_the_desk_is_reported_as_a_problem() -> None:
    intake, desk, alerts = make()
    desk.refuse = Failure("order_conflict", "S-6 was placed before with other lines")
    report = await intake.take([event(CREATED, "S-6", ("DUVET-Q", 1), event_id="evt-6")])
    assert report.problems == ["evt-6: S-6 was placed before with other lines"]
    assert (report.rejected, alerts.raised) == ([], [])


async def test_a_shipped_event_fulfils_the_stored_order() -> None:
    intake, desk, _ = make()
    await intake.take([event(CREATED, "S-7", ("SHEET-Q-WHITE", 1), ("DUVET-Q", 1))])
    report = await intake.take([event(SHIPPED, "S-7")])
    assert desk.calls[-1] == ("fulfil", order_id_for("shopify", "S-7"), [1, 3], "partner:shopify")
    assert report.problems == []
    assert {line.state for line in desk.orders[order_id_for("shopify", "S-7")]} == {FULFILLED}


async def test_a_repeated_shipped_event_is_not_a_problem() -> None:
    intake, desk, _ = make()
    await intake.take([event(CREATED, "S-8", ("DUVET-Q", 1))])
    await intake.take([event(SHIPPED, "S-8")])
    report = await intake.take([event(SHIPPED, "S-8")])
    assert desk.kinds() == ["place", "fulfil", "fulfil"]
    assert (report.applied, report.problems) == (1, [])


async def test_a_shipped_event_for_an_unknown_order_with_lines_reserves_then_fulfils() -> None:
    intake, desk, _ = make()
    report = await intake.take([event(SHIPPED, "S-10", ("SHEET-K-GREY", 2))])
    order_id = order_id_for("shopify", "S-10")
    assert desk.calls == [("place", "shopify", "S-10", [(2, 2)], "partner:shopify"),
                          ("fulfil", order_id, [2], "partner:shopify")]
    assert report.problems == []
    assert desk.stock[2] == 8


async def test_a_shipped_event_for_an_unknown_order_without_lines_changes_nothing() -> None:
    intake, desk, _ = make()
    report = await intake.take([event(SHIPPED, "S-11")])
    assert desk.calls == []
    assert (report.applied, report.problems) == (1, [])


async def test_a_shipped_event_for_an_unknown_order_that_cannot_be_filled_is_not_fulfilled() -> None:
    intake, desk, alerts = make(stock={2: 0})
    report = await intake.take([event(SHIPPED, "S-12", ("SHEET-K-GREY", 1))])
    assert desk.kinds() == ["place"]
    assert report.rejected == ["S-12"]
    assert [kind for kind, _, _ in alerts.raised] == ["oversell"]


async def test_shipping_an_order_still_waiting_for_stock_is_a_problem() -> None:
    intake, _, _ = make(policy="backorder", stock={1: 0}, partner="amazon")
    await intake.take([event(CREATED, "A-13", ("SHEET-Q-WHITE", 1))])
    report = await intake.take([event(SHIPPED, "A-13", event_id="evt-13")])
    assert report.problems == [f"evt-13: order {order_id_for('amazon', 'A-13')} still has backordered units"]


async def test_an_in_store_sale_is_reserved_and_fulfilled_at_once() -> None:
    intake, desk, alerts = make(partner="square")
    report = await intake.take([event(SALE, "SQ-1", ("SHEET-Q-WHITE", 1), ("DUVET-Q", 2))])
    order_id = order_id_for("square", "SQ-1")
    assert desk.calls == [("place", "square", "SQ-1", [(1, 1), (3, 2)], "partner:square"),
                          ("fulfil", order_id, [1, 3], "partner:square")]
    assert {line.state for line in desk.orders[order_id]} == {FULFILLED}
    assert (report.problems, alerts.raised) == ([], [])


async def test_an_in_store_sale_seen_twice_is_one_sale() -> None:
    intake, desk, _ = make(partner="square")
    for _ in range(2):
        report = await intake.take([event(SALE, "SQ-2", ("DUVET-Q", 1))])
        assert report.problems == []
    assert desk.stock[3] == 9


async def test_an_in_store_sale_of_stock_that_is_gone_is_not_fulfilled() -> None:
    intake, desk, alerts = make(partner="square", stock={3: 0})
    report = await intake.take([event(SALE, "SQ-3", ("DUVET-Q", 1))])
    assert desk.kinds() == ["place"]
    assert report.rejected == ["SQ-3"]
    assert [(kind, key) for kind, key, _ in alerts.raised] == [("oversell", "square:SQ-3")]


async def test_a_cancelled_event_cancels_the_stored_order() -> None:
    intake, desk, _ = make()
    await intake.take([event(CREATED, "S-14", ("SHEET-Q-WHITE", 1))])
    report = await intake.take([event(CANCELLED_EV, "S-14")])
    assert desk.calls[-1] == ("cancel", order_id_for("shopify", "S-14"), [1], "partner:shopify")
    assert report.problems == []


@pytest.mark.parametrize("stock", [{1: 5}, {1: 0}], ids=["already_cancelled", "rejected"])
async def test_cancelling_an_order_already_cancelled_or_rejected_is_not_a_problem(stock: dict[int, int]) -> None:
    intake, desk, _ = make(stock=stock)
    await intake.take([event(CREATED, "S-15", ("SHEET-Q-WHITE", 1))])
    await intake.take([event(CANCELLED_EV, "S-15")])
    report = await intake.take([event(CANCELLED_EV, "S-15")])
    assert desk.kinds()[-1] == "cancel"
    assert report.problems == []


async def test_a_cancel_seen_before_its_order_records_it_cancelled_so_the_late_created_event_is_a_replay() -> None:
    intake, desk, alerts = make()
    report = await intake.take([event(CANCELLED_EV, "S-16", ("SHEET-Q-WHITE", 1)),
                                event(CREATED, "S-16", ("SHEET-Q-WHITE", 1))])
    assert desk.kinds() == ["place", "cancel", "place"]
    assert {line.state for lines in desk.orders.values() for line in lines} == {CANCELLED}
    assert (report.applied, report.problems, alerts.raised) == (2, [], [])


async def test_a_cancelled_event_without_lines_for_an_order_we_never_took_changes_nothing() -> None:
    intake, desk, _ = make()
    report = await intake.take([event(CANCELLED_EV, "S-19")])
    assert desk.calls == []
    assert (report.applied, report.problems) == (1, [])


async def test_a_batch_is_taken_in_order_and_counted() -> None:
    intake, desk, _ = make()
    report = await intake.take([event(CREATED, "S-17", ("DUVET-Q", 1)), event(SHIPPED, "S-17"),
                                event(CREATED, "S-18", ("DUVET-Q", 1)), event(CANCELLED_EV, "S-18")])
    assert desk.kinds() == ["place", "fulfil", "place", "cancel"]
    assert (report.applied, report.problems) == (4, [])


async def test_an_event_that_breaks_stops_the_batch_and_is_raised() -> None:
    intake, desk, _ = make()
    desk.broken = ConnectionError("shard gone")
    with pytest.raises(ConnectionError, match="shard gone"):
        await intake.take([event(SALE, "S-19", ("DUVET-Q", 1)), event(CREATED, "S-20", ("DUVET-Q", 1))])
    assert desk.kinds() == ["place"]
