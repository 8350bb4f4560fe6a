"""The distributor simulator reads an 855 as strictly as its guide: line status codes from X12's
list, quantities that add up to what it ordered, every PO1 it sent echoed, a CTT that counts them,
and only for POs it sent. Written here by hand, not by our connector."""

from __future__ import annotations

import pytest

from simulators import edi
from simulators.wholesale_acks import read_po_ack

ORDERED = {"PO-10001": {"1": 10, "2": 3}}
GOOD = ("BAK*00*AC*PO-10001*20260427****20260428~PO1*1*10*EA*3.50**VP*SHEET-Q-WHT*BP*DIST-4471~ACK*IA*8*EA~"
        "ACK*IB*2*EA~PO1*2*3*EA*3.50**BP*DIST-9~ACK*IR*3*EA~CTT*2")


def po_ack(body: str) -> edi.TransactionSet:
    return edi.TransactionSet("855", "0001", tuple(tuple(s.split("*")) for s in body.split("~") if s))


def test_a_line_by_line_855_is_read_with_each_lines_statuses() -> None:
    ack = read_po_ack(po_ack(GOOD), ORDERED)
    assert (ack.po_number, ack.ack_type) == ("PO-10001", "AC")
    assert [(line.line, line.statuses) for line in ack.lines] == [("1", [("IA", 8), ("IB", 2)]), ("2", [("IR", 3)])]
    assert ack.lines[0].ids == {"VP": "SHEET-Q-WHT", "BP": "DIST-4471"}


@pytest.mark.parametrize(("change", "says"), [
    (("ACK*IR*3*EA", "ACK*XX*3*EA"), "ACK01"),
    (("ACK*IB*2*EA", "ACK*IB*1*EA"), "add up"),
    (("CTT*2", "CTT*3"), "CTT"),
    (("BAK*00*AC*PO-10001", "BAK*00*AC*PO-99999"), "not a PO we sent"),
    (("BAK*00*AC", "BAK*00*QQ"), "BAK02"),
    (("PO1*2*3*EA*3.50**BP*DIST-9~ACK*IR*3*EA~CTT*2", "CTT*1"), "PO1 lines"),
    (("PO1*1*10*EA", "PO1*1*11*EA"), "echoes 11"),
    (("~ACK*IR*3*EA", ""), "no ACK"),
    (("ACK*IA*8*EA", "ACK*IA*8"), "ACK02/03"),
])
def test_an_855_the_guide_does_not_allow_is_refused_naming_what_is_wrong(change: tuple[str, str], says: str) -> None:
    with pytest.raises(edi.EdiError, match=says):
        read_po_ack(po_ack(GOOD.replace(*change, 1)), ORDERED)


def test_an_846_lin_may_carry_a_gtin_whose_check_digit_the_distributor_verifies() -> None:
    advice = edi.TransactionSet("846", "0001", (("BIA", "00", "SI", "INV-1", "20260115"),
                                                ("LIN", "", "SK", "SHEET-Q-WHT", "UP", "012345678905"),
                                                ("QTY", "33", "500", "EA"), ("CTT", "1")))
    assert edi.advised_gtins(advice) == {"SHEET-Q-WHT": "012345678905"}
    assert edi.inventory_advice(advice) == [("SHEET-Q-WHT", 500)]
    wrong = edi.TransactionSet("846", "0001", (advice.body[0], ("LIN", "", "SK", "A", "UP", "012345678901")))
    with pytest.raises(edi.EdiError, match="GTIN-12"):
        edi.advised_gtins(wrong)
