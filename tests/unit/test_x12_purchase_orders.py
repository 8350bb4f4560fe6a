"""The 850 as distributors really send it (VP our SKU, BP theirs, UP/EN the GTIN), the 855 we answer
with line by line, the GTIN on the 846, and the distributor's X12 profile (version, extra segments,
file names, part numbers). Pure: no files, no SFTP."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from connectors import x12
from connectors.base import LineAnswer, OrderLine
from connectors.wholesale_files import orders_from_x12, po_data, po_of
from connectors.wholesale_profile import X12Profile
from tests.unit import test_simulators_read_the_partners_samples as samples

THEM, US = x12.Party("DISTRIBUTOR"), x12.Party("THREADCOUNT")
WHEN = datetime(2026, 4, 27, 9, 15)
SAMPLE_850 = samples.SAMPLE_850


def po_with(*po1s: str, number: str = "PO-7") -> str:
    body = [f"BEG*00*SA*{number}**20260427", *po1s, f"CTT*{len(po1s)}"]
    sets = [("850", [tuple(segment.split("*")) for segment in body])]
    return x12.write_interchange(x12.Envelope(THEM, US, 31, WHEN), "PO", sets)


def test_the_published_850_names_our_sku_under_vp_and_the_gtin_under_up() -> None:
    (event,), acks = orders_from_x12("850_sample.edi", SAMPLE_850)
    assert event.order_id == "PO-10001"
    assert event.lines == (OrderLine("SHEET-Q-WHT", 10, "012345678905", ""),)
    assert acks[0]["sets"] == [["850", "0001", ""]]


def test_a_line_with_only_the_distributors_part_number_goes_through_the_cross_reference() -> None:
    text = po_with("PO1*1*4*EA*3.50**BP*DIST-4471", "PO1*2*1*EA*3.50**BP*DIST-9999")
    (event,), _ = orders_from_x12("a", text, {"DIST-4471": "SHEET-Q-WHT"})
    assert event.lines == (OrderLine("", 4, "", "SHEET-Q-WHT"), OrderLine("", 1, "", ""))


def test_a_line_naming_no_product_or_no_quantity_does_not_reject_the_set() -> None:
    text = po_with("PO1*1*2*EA*3.50**VP*SHEET-Q-WHT", "PO1*2**EA*3.50**VP*PILLOW-STD", "PO1*3*1*EA*3.50")
    (event,), acks = orders_from_x12("a", text)
    assert [(line.sku, line.quantity) for line in event.lines] == [("SHEET-Q-WHT", 2), ("PILLOW-STD", 0), ("", 1)]
    assert acks[0]["sets"] == [["850", "0001", ""]]


def test_a_po_travels_as_plain_data_to_its_855_unchanged() -> None:
    (event,), _ = orders_from_x12("a", SAMPLE_850)
    po = po_of(event.raw["po"])
    assert po_data(po) == event.raw["po"]
    assert po.lines[0].buyer_part == "DIST-4471" and po.lines[0].number == "1"


def test_the_855_acknowledges_each_line_accepted_backordered_or_rejected() -> None:
    text = po_with("PO1*1*10*EA*3.50**VP*SHEET-Q-WHT*BP*DIST-4471", "PO1*2*5*EA*3.50**BP*DIST-5",
                   "PO1*3*3*EA*3.50**UP*012345678905")
    (event,), _ = orders_from_x12("a", text)
    answers = [LineAnswer("SHEET-Q-WHT", 8, 2), LineAnswer("", rejected=5), LineAnswer("PILLOW-STD", 3)]
    body = x12.po_acknowledgement(po_of(event.raw["po"]), answers, date(2026, 4, 28))
    assert ["*".join(segment).rstrip("*") for segment in body] == [
        "BAK*00*AC*PO-7*20260427*****20260428",
        "PO1*1*10*EA*3.50**VP*SHEET-Q-WHT*BP*DIST-4471", "ACK*IA*8*EA", "ACK*IB*2*EA",
        "PO1*2*5*EA*3.50**BP*DIST-5", "ACK*IR*5*EA",
        "PO1*3*3*EA*3.50**VP*PILLOW-STD*UP*012345678905", "ACK*IA*3*EA",
        "CTT*3",
    ]


@pytest.mark.parametrize(("answers", "kind"), [
    ([LineAnswer("A", 2)], "AD"), ([LineAnswer("", rejected=2)], "RD"), ([LineAnswer("A", 1, 1)], "AC")])
def test_bak02_says_as_ordered_with_changes_or_rejected(answers: list[LineAnswer], kind: str) -> None:
    po = x12.PurchaseOrder("PO-1", "20260427", (x12.PoLine("A", 2, number="1"),))
    assert x12.po_acknowledgement(po, answers, date(2026, 4, 28))[0][2] == kind


def test_an_855_whose_counts_would_not_add_up_rejects_that_line_whole() -> None:
    po = x12.PurchaseOrder("PO-1", "20260427", (x12.PoLine("A", 0, number="1"),))
    assert x12.po_acknowledgement(po, [LineAnswer("", rejected=0)], date(2026, 4, 28))[2] == ("ACK", "IR", "0", "EA")


def test_the_846_carries_the_variants_gtin_as_a_second_product_id() -> None:
    body = x12.inventory_advice("INV-1", date(2026, 1, 15), [("A", 5), ("B", 1), ("C", 0)],
                                {"A": "012345678905", "B": "4006381333931"})
    assert body[1:6:2] == [("LIN", "", "SK", "A", "UP", "012345678905"), ("LIN", "", "SK", "B", "EN", "4006381333931"),
                           ("LIN", "", "SK", "C")]


def test_a_5010_profile_writes_isa12_00501_gs08_005010_and_a_repetition_separator() -> None:
    profile = X12Profile.from_options({"x12_version": "5010"})
    text = x12.write_interchange(x12.Envelope(US, THEM, 5, WHEN, version=profile.version), "IB", [])
    isa, gs = text.split("~")[:2]
    assert isa.split("*")[11:13] == ["^", "00501"] and gs.endswith("*X*005010")


def test_the_profile_adds_the_guides_segments_after_the_header_and_names_the_files() -> None:
    profile = X12Profile.from_options({"segments": {"846": ["REF*IA*V-1234", "DTM*405*20260115"]},
                                       "file_names": {"846": "INV_{partner}_{control}.x12"}})
    body = x12.inventory_advice("INV-1", date(2026, 1, 15), [("A", 5)])
    assert [segment[0] for segment in profile.body("846", body)] == ["BIA", "REF", "DTM", "LIN", "QTY", "CTT"]
    assert profile.file_name("846", 42, "acme") == "INV_acme_42.x12"
    assert profile.file_name("997", 42, "acme") == "997_42.edi"


@pytest.mark.parametrize("options", [
    {"x12_version": "3060"}, {"file_names": {"846": "846.edi"}}, {"file_names": {"846": "../{control}"}},
    {"segments": {"846": ["SE*1*0001"]}}, {"segments": {"846": ["REF*A>B"]}}])
def test_a_profile_option_that_cannot_work_is_refused_naming_it(options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        X12Profile.from_options(options)


def test_our_reader_takes_the_published_846_too() -> None:
    (group,) = x12.parse_interchange(samples.ADVICE_846.format(se01=6)).groups
    assert x12.read_inventory_advice(group.transactions[0]) == [("SHEET-Q-WHT", 500)]
