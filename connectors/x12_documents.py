"""The X12 documents we trade with a distributor, as the segments between ST and SE: the 846
Inventory Advice we send, the 850 Purchase Order they send and the 997 Functional Acknowledgement
we answer with. The envelope around them is x12's.

Pure: segments in, values out, and back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from connectors.x12_segments import Segment, X12Error, element_at

if TYPE_CHECKING:
    from connectors.x12 import Transaction


@dataclass(frozen=True, slots=True)
class PoLine:
    sku: str                # PO1 "BP", buyer's part number: our SKU
    quantity: int
    price: str = ""
    vendor_part: str = ""   # PO1 "VP": the distributor's own number for the item


@dataclass(frozen=True, slots=True)
class PurchaseOrder:
    number: str             # BEG03
    day: str                # BEG05, CCYYMMDD
    lines: tuple[PoLine, ...]
    purpose: str = "00"     # BEG01: 00 original, 01 cancellation, 07 duplicate


@dataclass(frozen=True, slots=True)
class SetResult:
    set_id: str
    control: str
    code: str = ""          # "" accepted, else the AK5 error code

    @property
    def accepted(self) -> bool:
        return not self.code


@dataclass(frozen=True, slots=True)
class FunctionalAck:
    functional_id: str      # AK101: the group acknowledged
    group_control: str      # AK102
    results: tuple[SetResult, ...]
    group_code: str = ""    # AK905 when the whole group was refused


def inventory_advice(reference: str, day: date, listings: Iterable[tuple[str, int]]) -> list[Segment]:
    """846 body: QTY01 33 is quantity available for sale."""
    body: list[Segment] = [("BIA", "00", "SI", reference, day.strftime("%Y%m%d"))]
    for sku, quantity in listings:
        body += [("LIN", "", "SK", sku), ("QTY", "33", str(quantity), "EA")]
    return [*body, ("CTT", str((len(body) - 1) // 2))]


def read_inventory_advice(tx: Transaction) -> list[tuple[str, int]]:
    body = _expect(tx, "846", "BIA")
    found: list[tuple[str, int]] = []
    sku: str | None = None
    for segment in body[1:]:
        if segment[0] == "LIN":
            sku = pairs(segment[2:]).get("SK")
        elif segment[0] == "QTY" and element_at(segment, 1) == "33" and sku:
            found.append((sku, _quantity(element_at(segment, 2))))
            sku = None
        elif segment[0] == "CTT" and element_at(segment, 1) != str(len(found)):
            raise X12Error(f"846 {tx.control}: CTT says {element_at(segment, 1)!r} items, found {len(found)}")
    return found


def purchase_order(order: PurchaseOrder) -> list[Segment]:
    body: list[Segment] = [("BEG", order.purpose, "SA", order.number, "", order.day)]
    for number, line in enumerate(order.lines, start=1):
        vendor = ("VP", line.vendor_part) if line.vendor_part else ()
        body.append(("PO1", str(number), str(line.quantity), "EA", line.price, "", *vendor, "BP", line.sku))
    return [*body, ("CTT", str(len(order.lines)))]


def read_purchase_order(tx: Transaction) -> PurchaseOrder:
    """An 850; a line without a BP (our SKU) or with no quantity is an error: we cannot fill it."""
    body = _expect(tx, "850", "BEG")
    beg, lines = body[0], []
    for segment in body[1:]:
        if segment[0] == "PO1":
            sku = pairs(segment[6:]).get("BP", "")
            quantity = _quantity(element_at(segment, 2))
            if not sku or quantity <= 0:
                raise X12Error(f"850 {tx.control}: PO1 {element_at(segment, 1)} has no BP part number "
                               "or quantity")
            lines.append(PoLine(sku, quantity, element_at(segment, 4), pairs(segment[6:]).get("VP", "")))
    if not element_at(beg, 3) or not lines:
        raise X12Error(f"850 {tx.control}: no PO number or no PO1 lines")
    return PurchaseOrder(element_at(beg, 3), element_at(beg, 5), tuple(lines), element_at(beg, 1))


def functional_ack(ack: FunctionalAck) -> list[Segment]:
    body: list[Segment] = [("AK1", ack.functional_id, ack.group_control)]
    for result in ack.results:
        status = "A" if result.accepted else "R"
        body += [("AK2", result.set_id, result.control), ("AK5", status, result.code)]
    accepted = sum(result.accepted for result in ack.results)
    status = "A" if accepted == len(ack.results) else "P" if accepted else "R"
    count = str(len(ack.results))
    return [*body, ("AK9", status, count, count, str(accepted), ack.group_code)]


def read_functional_ack(tx: Transaction) -> FunctionalAck:
    body = _expect(tx, "997", "AK1")
    group, control = element_at(body[0], 1), element_at(body[0], 2)
    results: list[SetResult] = []
    for segment in body[1:]:
        if segment[0] == "AK2":
            results.append(SetResult(element_at(segment, 1), element_at(segment, 2)))
        elif segment[0] == "AK5" and results:
            code = "" if element_at(segment, 1) in ("A", "E") else element_at(segment, 2) or "5"
            results[-1] = SetResult(results[-1].set_id, results[-1].control, code)
        elif segment[0] == "AK9" and element_at(segment, 1) == "R" and not results:
            return FunctionalAck(group, control, (), element_at(segment, 5) or "1")
    return FunctionalAck(group, control, tuple(results))


def _expect(tx: Transaction, set_id: str, first: str) -> tuple[Segment, ...]:
    body = tx.body
    if tx.set_id != set_id or not body or body[0][0] != first:
        raise X12Error(f"transaction set {tx.control}: expected a {set_id} starting with {first}", "6")
    return body


def _quantity(value: str) -> int:
    try:
        return int(float(value)) if value.strip() else 0
    except ValueError as exc:
        raise X12Error(f"{value!r} is not a quantity") from exc


def pairs(elements: Iterable[str]) -> dict[str, str]:
    """Qualifier/value pairs (PO106/PO107, PO108/PO109, ...) as a dict."""
    items = list(elements)
    return {items[i]: items[i + 1] for i in range(0, len(items) - 1, 2) if items[i]}

