"""The 855 Purchase Order Acknowledgement we send a distributor once its 850 has committed: a BAK
header, then each PO1 echoed with one ACK per outcome of that line. Pure: values in, segments out.

Codes (X12 element 668, line item status): IA item accepted (units reserved), IB item backordered,
IR item rejected (an unknown product, or stock gone under the reject policy). A line split between
reserved and backordered carries an IA and an IB whose quantities add up to the PO1's.
BAK02 (587): AD acknowledged as ordered, AC acknowledged with changes (something backordered or
rejected), RD every line rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from connectors.base import LineAnswer
from connectors.x12_documents import PoLine, PurchaseOrder, po1
from connectors.x12_segments import Segment, X12Error

ACCEPTED, BACKORDERED, REJECTED = "IA", "IB", "IR"


def line_acks(line: PoLine, answer: LineAnswer) -> list[Segment]:
    """The ACKs of one PO1: their quantities add up to what it ordered."""
    parts = [(ACCEPTED, answer.accepted), (BACKORDERED, answer.backordered), (REJECTED, answer.rejected)]
    acks: list[Segment] = [("ACK", code, str(units), line.unit) for code, units in parts if units > 0]
    if not acks or sum(units for _, units in parts) != line.quantity:
        # Nothing to say (a line with no usable quantity), or counts that do not add up to what was
        # ordered: refuse the whole line rather than send an ACK that contradicts the PO.
        acks = [("ACK", REJECTED, str(line.quantity), line.unit)]
    return acks


def acknowledgement_type(answers: Sequence[LineAnswer]) -> str:
    if all(answer.rejected and not (answer.accepted or answer.backordered) for answer in answers):
        return "RD"
    if all(not (answer.backordered or answer.rejected) for answer in answers):
        return "AD"
    return "AC"


def po_acknowledgement(po: PurchaseOrder, answers: Sequence[LineAnswer], day: date,
                       extra: Sequence[Segment] = ()) -> list[Segment]:
    """855 body for `po`, `answers` in the order of its lines. `extra` are the segments the
    partner's guide requires after the BAK (REF, DTM, N1...). Each PO1 is echoed with the product
    ids the distributor gave, plus our SKU as VP where we matched the line."""
    if len(answers) != len(po.lines):
        raise X12Error(f"855 for {po.number}: {len(answers)} answers for {len(po.lines)} lines")
    body: list[Segment] = [("BAK", "00", acknowledgement_type(answers), po.number, po.day, "", "", "", "",
                            day.strftime("%Y%m%d")), *extra]
    for number, (line, answer) in enumerate(zip(po.lines, answers, strict=True), start=1):
        echoed = replace(line, sku=answer.sku or line.sku)
        body += [po1(echoed, line.number or str(number)), *line_acks(line, answer)]
    return [*body, ("CTT", str(len(po.lines)))]
