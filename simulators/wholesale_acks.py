"""The 855 Purchase Order Acknowledgement as the distributor's guide demands it, read strictly: a
BAK naming one of its own POs, then for every PO1 it sent (same line number, same quantity) at least
one ACK whose status code is a real X12 line item status and whose quantities add up to the line's,
and a CTT counting the PO1s. Anything else refuses the whole 855 (the distributor would send a 997
rejecting it; the simulator counts it in edi_errors).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from simulators.edi import EdiError, Segment, TransactionSet, element

# X12 element 587, acknowledgment type, as the guide allows it in an 855 BAK02.
ACK_TYPES = {"AC", "AD", "AE", "AK", "AP", "RD", "RF", "RJ", "RN", "RO", "RV", "ZZ"}
# X12 element 668, line item status code: the codes a line's ACK01 may carry.
LINE_CODES = {"AR", "BP", "DR", "IA", "IB", "IC", "ID", "IE", "IF", "IH", "IP", "IQ", "IR", "IS", "IW",
              "R1", "R2", "R3", "R4", "SP"}


@dataclass(frozen=True, slots=True)
class LineAck:
    line: str                                   # PO101 as echoed
    ordered: int                                # PO102 as echoed
    ids: Mapping[str, str]                      # PO106/PO107... pairs as echoed
    statuses: list[tuple[str, int]] = field(default_factory=list)   # (ACK01, ACK02)


@dataclass(frozen=True, slots=True)
class PoAck:
    po_number: str      # BAK03
    ack_type: str       # BAK02
    lines: list[LineAck]


def read_po_ack(tx: TransactionSet, ordered: Mapping[str, Mapping[str, int]]) -> PoAck:
    """The 855 in `tx`, checked against `ordered`: {PO number: {PO1 line number: quantity}}."""
    if tx.code != "855" or not tx.body or tx.body[0][0] != "BAK":
        raise EdiError(f"transaction set {tx.control}: expected an 855 starting with BAK")
    bak = tx.body[0]
    if element(bak, 1) != "00" or element(bak, 2) not in ACK_TYPES:
        raise EdiError(f"855 {tx.control}: BAK01 {element(bak, 1)!r} / BAK02 {element(bak, 2)!r} not allowed")
    number = element(bak, 3)
    if number not in ordered:
        raise EdiError(f"855 {tx.control}: BAK03 {number!r} is not a PO we sent")
    if not (len(element(bak, 4)) == 8 and element(bak, 4).isdigit()):
        raise EdiError(f"855 {tx.control}: BAK04 {element(bak, 4)!r} is not the PO date CCYYMMDD")
    lines = _lines(tx, tx.body[1:])
    _check_against_po(tx, lines, ordered[number])
    return PoAck(number, element(bak, 2), lines)


def _lines(tx: TransactionSet, body: tuple[Segment, ...]) -> list[LineAck]:
    lines: list[LineAck] = []
    counted: str | None = None
    for segment in body:
        if segment[0] == "PO1":
            ids = segment[6:]
            lines.append(LineAck(element(segment, 1), _whole(tx, element(segment, 2)),
                                 {ids[i]: ids[i + 1] for i in range(0, len(ids) - 1, 2)}))
        elif segment[0] == "ACK":
            if not lines:
                raise EdiError(f"855 {tx.control}: ACK before any PO1")
            code, units, unit = element(segment, 1), element(segment, 2), element(segment, 3)
            if code not in LINE_CODES or not units or not unit:
                raise EdiError(f"855 {tx.control}: ACK*{code}*{units}*{unit}: unknown ACK01 or no ACK02/03")
            lines[-1].statuses.append((code, _whole(tx, units)))
        elif segment[0] == "CTT":
            counted = element(segment, 1)
    if counted != str(len(lines)):
        raise EdiError(f"855 {tx.control}: CTT says {counted!r} lines, the set holds {len(lines)} PO1s")
    return lines


def _check_against_po(tx: TransactionSet, lines: list[LineAck], ordered: Mapping[str, int]) -> None:
    where = f"855 {tx.control}"
    if sorted(line.line for line in lines) != sorted(ordered):
        raise EdiError(f"{where}: PO1 lines {sorted(line.line for line in lines)} are not {sorted(ordered)}")
    for line in lines:
        if line.ordered != ordered[line.line]:
            raise EdiError(f"{where}: PO1 {line.line} echoes {line.ordered}, we ordered {ordered[line.line]}")
        if not line.statuses:
            raise EdiError(f"{where}: PO1 {line.line} has no ACK")
        if sum(units for _, units in line.statuses) != line.ordered:
            raise EdiError(f"{where}: PO1 {line.line}: ACK quantities do not add up to {line.ordered}")


def _whole(tx: TransactionSet, text: str) -> int:
    if not text.isdigit():
        raise EdiError(f"855 {tx.control}: {text!r} is not a whole quantity")
    return int(text)
