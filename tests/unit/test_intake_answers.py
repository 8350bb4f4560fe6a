"""sync/intake, line by line: a partner's line is matched by our SKU, then its GTIN, then the
partner's own part number through the cross-reference; a line that matches nothing is refused alone
and the rest of the order is taken; every new order is answered line by line (the EDI 855)."""

from __future__ import annotations

import pytest

from connectors.base import LineAnswer, OrderAnswer, OrderEvent, OrderEventKind, OrderLine
from inventory.desk import Channel
from sync.intake import OrderIntake
from tests.unit.test_intake import HERE, SKUS, Alerts, FakeCatalog, FakeDesk

GTINS = {"012345678905": (2, "SHEET-K-GREY")}


class GtinCatalog(FakeCatalog):
    async def variant_by_gtin(self, gtin: str) -> tuple[int, str] | None:
        return GTINS.get(gtin)


def intake(policy: str = "backorder", stock: dict[int, int] | None = None) -> tuple[OrderIntake, FakeDesk, Alerts]:
    desk, alerts = FakeDesk({1: 10, 2: 10, 3: 10} if stock is None else stock), Alerts()

    async def stored_variants(order_id: str) -> list[int] | None:
        return None

    channel = Channel("wholesale", policy, (HERE,))  # type: ignore[arg-type]
    return OrderIntake("wholesale", channel, desk, GtinCatalog(), stored_variants, alerts), desk, alerts  # type: ignore[arg-type]


def po(*lines: OrderLine) -> OrderEvent:
    return OrderEvent("D:PO-1:created", OrderEventKind.CREATED, "PO-1", lines)


async def test_an_unknown_product_rejects_its_line_and_the_rest_of_the_order_is_taken() -> None:
    taking, desk, alerts = intake()
    report = await taking.take([po(OrderLine("SHEET-Q-WHITE", 2), OrderLine("NOT-OURS", 3), OrderLine("DUVET-Q", 1))])
    assert desk.calls[0][3] == [(1, 2), (3, 1)]
    assert report.answers == [OrderAnswer("D:PO-1:created", "PO-1", (
        LineAnswer("SHEET-Q-WHITE", 2), LineAnswer("", rejected=3), LineAnswer("DUVET-Q", 1)))]
    assert [kind for kind, _, _ in alerts.raised] == ["unknown_sku"]


async def test_our_sku_comes_first_then_the_gtin_then_the_partners_part_number() -> None:
    taking, desk, _ = intake()
    report = await taking.take([po(OrderLine("DUVET-Q", 1, "012345678905", "SHEET-Q-WHITE"),
                                   OrderLine("", 1, "012345678905", "SHEET-Q-WHITE"),
                                   OrderLine("", 1, "000000000000", "SHEET-Q-WHITE"))])
    assert desk.calls[0][3] == [(3, 1), (2, 1), (1, 1)]
    assert [line.sku for line in report.answers[0].lines] == ["DUVET-Q", "SHEET-K-GREY", "SHEET-Q-WHITE"]


async def test_the_answer_splits_a_short_line_into_reserved_and_backordered() -> None:
    taking, _, _ = intake(stock={1: 3})
    report = await taking.take([po(OrderLine("SHEET-Q-WHITE", 5))])
    assert report.answers[0].lines == (LineAnswer("SHEET-Q-WHITE", 3, 2),)


@pytest.mark.parametrize("lines", [(OrderLine("SHEET-Q-WHITE", 5),), (OrderLine("NOT-OURS", 1),)])
async def test_an_order_refused_whole_is_answered_with_every_line_rejected(lines: tuple[OrderLine, ...]) -> None:
    taking, _, _ = intake("reject", stock={1: 3})
    report = await taking.take([po(*lines)])
    assert all(line.rejected == lines[i].quantity and not line.accepted
               for i, line in enumerate(report.answers[0].lines))


async def test_only_new_orders_are_answered() -> None:
    taking, _, _ = intake()
    await taking.take([po(OrderLine("SHEET-Q-WHITE", 1))])
    report = await taking.take([OrderEvent("D:PO-1:cancelled", OrderEventKind.CANCELLED, "PO-1",
                                           (OrderLine("SHEET-Q-WHITE", 1),))])
    assert report.answers == [] and SKUS["SHEET-Q-WHITE"] == 1
