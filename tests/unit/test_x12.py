"""X12 as the wholesale distributor trades it: envelopes, the 846 we send, the 850 we read, the 997
we answer with, control numbers, and the connector's pure reading of PO files (X12 and CSV)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from connectors import x12
from connectors.base import OrderEventKind, OrderLine
from connectors.wholesale import orders_from_csv, orders_from_x12

US, THEM = x12.Party("THREADCOUNT"), x12.Party("DISTRIBUTOR")
WHEN = datetime(2026, 1, 15, 12, 30)


def envelope(control: int = 42, sender: x12.Party = US, receiver: x12.Party = THEM) -> x12.Envelope:
    return x12.Envelope(sender, receiver, control, WHEN)


def advice_file(items: list[tuple[str, int]], control: int = 42) -> str:
    body = x12.inventory_advice("INV-20260115123000", date(2026, 1, 15), items)
    return x12.write_interchange(envelope(control), "IB", [("846", body)])


def po_file(*orders: x12.PurchaseOrder, control: int = 7) -> str:
    sets = [("850", x12.purchase_order(order)) for order in orders]
    return x12.write_interchange(envelope(control, THEM, US), "PO", sets)


def po(number: str = "PO-10001", sku: str = "SHEET-Q-WHT", quantity: int = 10, purpose: str = "00") -> x12.PurchaseOrder:
    return x12.PurchaseOrder(number, "20260427", (x12.PoLine(sku, quantity, "3.50", "DIST-4471", "", "1"),),
                             purpose)


def segments_of(text: str) -> list[str]:
    return [s for s in text.split("~") if s]


def test_an_846_round_trips_with_every_quantity() -> None:
    items = [("SHEET-Q-WHT", 500), ("SHEET-K-GRY", 0), ("PILLOW-STD", 12)]
    interchange = x12.parse_interchange(advice_file(items))
    assert interchange.sender == US and interchange.receiver == THEM
    (group,) = interchange.groups
    assert group.functional_id == "IB"
    assert x12.read_inventory_advice(group.transactions[0]) == items


def test_an_846_is_written_segment_by_segment_as_distributors_expect() -> None:
    text = advice_file([("SHEET-Q-WHT", 500)])
    assert segments_of(text)[2:] == [
        "ST*846*0001", "BIA*00*SI*INV-20260115123000*20260115", "LIN**SK*SHEET-Q-WHT", "QTY*33*500*EA",
        "CTT*1", "SE*6*0001", "GE*1*42", "IEA*1*000000042",
    ]


def test_se01_counts_the_segments_from_st_to_se_inclusive() -> None:
    text = advice_file([("A", 1), ("B", 2), ("C", 3)])
    se = next(s for s in segments_of(text) if s.startswith("SE*"))
    # ST, BIA, 3 x (LIN, QTY), CTT, SE
    assert se == "SE*10*0001"


def test_the_isa_is_fixed_width_and_carries_the_control_number_everywhere() -> None:
    text = advice_file([("A", 1)], control=123)
    isa, gs = segments_of(text)[:2]
    assert len(isa) + 1 == 106
    assert isa.split("*")[6] == "THREADCOUNT    " and isa.split("*")[13] == "000000123"
    assert isa.endswith("*>") and gs.split("*")[6] == "123"
    assert text.endswith("GE*1*123~IEA*1*000000123~")


def test_transaction_sets_in_one_group_are_numbered_and_counted() -> None:
    interchange = x12.parse_interchange(po_file(po("PO-1"), po("PO-2"), po("PO-3")))
    (group,) = interchange.groups
    assert [tx.control for tx in group.transactions] == ["0001", "0002", "0003"]
    assert group.trailer == ("GE", "3", "7")


@pytest.mark.parametrize(("broken", "fixed", "code"), [
    ("SE*5*0001", "SE*6*0001", "4"),   # SE01 does not count what is there
    ("SE*5*0001", "SE*5*0002", "3"),   # SE02 does not match ST02
])
def test_a_wrong_transaction_trailer_is_found_with_its_ak5_code(broken: str, fixed: str, code: str) -> None:
    text = po_file(po()).replace(broken, fixed)
    interchange = x12.read_interchange(text)
    error = interchange.groups[0].transactions[0].error()
    assert error is not None and error[0] == code
    with pytest.raises(x12.X12Error):
        x12.parse_interchange(text)


def test_a_file_cut_short_reports_every_missing_trailer() -> None:
    text = po_file(po())
    cut = text[: text.index("SE*")]
    interchange = x12.read_interchange(cut)
    assert interchange.groups[0].transactions[0].error() == ("2", "transaction set 0001: SE trailer missing")
    assert interchange.groups[0].error() is not None
    assert interchange.error() == "IEA trailer missing"


def test_group_and_interchange_counts_and_control_numbers_are_checked() -> None:
    assert x12.read_interchange(po_file(po()).replace("GE*1*7", "GE*2*7")).groups[0].error()[0] == "5"  # type: ignore[index]
    assert x12.read_interchange(po_file(po()).replace("GE*1*7", "GE*1*8")).groups[0].error()[0] == "4"  # type: ignore[index]
    assert "IEA02" in (x12.read_interchange(po_file(po()).replace("IEA*1*000000007", "IEA*1*000000008")).error() or "")


def test_the_reader_takes_the_delimiters_the_isa_declares_and_tolerates_line_breaks() -> None:
    text = po_file(po()).replace("*", "|").replace("~", "\n").replace("|>\n", "|^\n", 1)
    interchange = x12.parse_interchange(text)
    assert x12.read_purchase_order(interchange.groups[0].transactions[0]).number == "PO-10001"
    assert x12.parse_interchange(po_file(po()).replace("~", "~\r\n")).control == "000000007"


def test_an_850_gives_our_sku_from_the_vendor_part_number_and_the_distributors_from_the_buyer_part() -> None:
    tx = x12.parse_interchange(po_file(po())).groups[0].transactions[0]
    assert x12.read_purchase_order(tx) == po()
    assert "PO1*1*10*EA*3.50**VP*SHEET-Q-WHT*BP*DIST-4471" in po_file(po())


def test_an_850_line_without_our_part_number_is_read_for_the_intake_to_match_or_reject_alone() -> None:
    text = po_file(po()).replace("*VP*SHEET-Q-WHT", "")
    (line,) = x12.read_purchase_order(x12.parse_interchange(text).groups[0].transactions[0]).lines
    assert (line.sku, line.buyer_part, line.quantity) == ("", "DIST-4471", 10)


def test_a_997_round_trips_accepting_and_rejecting_sets() -> None:
    ack = x12.FunctionalAck("PO", "7", (x12.SetResult("850", "0001"), x12.SetResult("850", "0002", "4")))
    text = x12.write_interchange(envelope(9), "FA", [("997", x12.functional_ack(ack))])
    assert "AK1*PO*7~AK2*850*0001~AK5*A~AK2*850*0002~AK5*R*4~AK9*P*2*2*1~" in text
    assert x12.read_functional_ack(x12.parse_interchange(text).groups[0].transactions[0]) == ack


def test_a_fully_accepted_997_says_ak9_a() -> None:
    ack = x12.FunctionalAck("PO", "7", (x12.SetResult("850", "0001"),))
    assert x12.functional_ack(ack) == [("AK1", "PO", "7"), ("AK2", "850", "0001"), ("AK5", "A", ""),
                                       ("AK9", "A", "1", "1", "1", "")]


@pytest.mark.parametrize("sku", ["BAD*SKU", "BAD~SKU", "BAD>SKU"])
def test_an_element_holding_a_delimiter_is_refused(sku: str) -> None:
    with pytest.raises(x12.X12Error):
        advice_file([(sku, 1)])


def test_isa_ids_longer_than_fifteen_characters_are_refused() -> None:
    with pytest.raises(x12.X12Error):
        x12.write_interchange(envelope(sender=x12.Party("A" * 16)), "IB", [])


def test_control_numbers_follow_the_clock_and_never_repeat_when_it_stalls() -> None:
    now = [1_000.0]
    numbers = x12.ControlNumbers(lambda: now[0])
    first, second = numbers.next(), numbers.next()
    assert first == 10_000 and second == 10_001
    now[0] = 2_000.0
    assert numbers.next() == 20_000
    assert x12.ControlNumbers(lambda: now[0] + 1).next() > 20_000  # after a restart


def test_a_po_file_becomes_created_events_keyed_on_sender_and_po_number() -> None:
    events, acks = orders_from_x12("850_a.edi", po_file(po("PO-1", quantity=3), po("PO-2", "PILLOW-STD", 1)))
    assert [e.event_id for e in events] == ["DISTRIBUTOR:PO-1:created", "DISTRIBUTOR:PO-2:created"]
    assert [e.kind for e in events] == [OrderEventKind.CREATED] * 2
    assert events[1].lines == (OrderLine("PILLOW-STD", 1),)
    assert acks == [{"group": "PO", "control": "7", "sets": [["850", "0001", ""], ["850", "0002", ""]], "code": ""}]
    assert events[0].raw["file"] == "850_a.edi" and events[0].raw["acks"] == acks


def test_a_resent_po_dedupes_with_the_original_and_a_cancellation_is_its_own_event() -> None:
    original, _ = orders_from_x12("a", po_file(po("PO-1"), control=1))
    resent, _ = orders_from_x12("b", po_file(po("PO-1", purpose="07"), control=2))
    cancelled, _ = orders_from_x12("c", po_file(po("PO-1", purpose="01"), control=3))
    assert original[0].event_id == resent[0].event_id
    assert cancelled[0].kind == OrderEventKind.CANCELLED and cancelled[0].event_id == "DISTRIBUTOR:PO-1:cancelled"


def test_a_bad_po_in_a_file_is_rejected_alone_and_a_broken_frame_rejects_the_group() -> None:
    text = po_file(po("PO-1"), po("PO-2")).replace("BEG*00*SA*PO-2*", "BEG*00*SA**")
    events, acks = orders_from_x12("a", text)
    assert [e.order_id for e in events] == ["PO-1"]
    assert acks[0]["sets"] == [["850", "0001", ""], ["850", "0002", "5"]]
    events, acks = orders_from_x12("b", po_file(po("PO-1")).replace("GE*1*7", "GE*1*8"))
    assert events == [] and acks[0]["sets"] == [["850", "0001", "5"]] and acks[0]["code"] == "4"


def test_the_csv_variant_groups_rows_by_po_number() -> None:
    text = "po_number,sku,quantity\r\nPO-1,A,2\r\nPO-1,B,1\r\nPO-2,A,5\r\n"
    events, acks = orders_from_csv("DISTRIBUTOR", "po.csv", text)
    assert acks == []
    assert [(e.event_id, e.lines) for e in events] == [
        ("DISTRIBUTOR:PO-1:created", (OrderLine("A", 2), OrderLine("B", 1))),
        ("DISTRIBUTOR:PO-2:created", (OrderLine("A", 5),)),
    ]


def test_a_csv_row_without_a_quantity_is_refused() -> None:
    with pytest.raises(ValueError):
        orders_from_csv("DISTRIBUTOR", "po.csv", "po_number,sku,quantity\r\nPO-1,A,\r\n")
