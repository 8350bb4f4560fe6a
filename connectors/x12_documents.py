"""The X12 documents we trade with a distributor, as the segments between ST and SE: the 846
Inventory Advice we send, the 850 Purchase Order they send and the 997 Functional Acknowledgement
we answer with. The envelope around them is x12's.

Pure: segments in, values out, and back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from connectors.x12_segments import Segment, X12Error, element_at

if TYPE_CHECKING:
    from connectors.x12 import Transaction


@dataclass(frozen=True, slots=True)
class PoLine:
    """One PO1. We are the vendor, so VP (vendor's part number) is our SKU and BP (buyer's part
    number) is the distributor's own; UP/EN is the item's GTIN. A line may carry any of them."""

    sku: str                # PO1 "VP": our SKU ("" when the distributor did not give it)
    quantity: int           # 0 when PO102 is missing or not a number: the line cannot be filled
    price: str = ""
    buyer_part: str = ""    # PO1 "BP": the distributor's own number for the item
    gtin: str = ""          # PO1 "UP" (UPC-12) or "EN" (EAN-13)
    number: str = ""        # PO101, echoed in the 855
    unit: str = "EA"        # PO103


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


def inventory_advice(reference: str, day: date, listings: Iterable[tuple[str, int]],
                     gtins: Mapping[str, str] | None = None) -> list[Segment]:
    """846 body: QTY01 33 is quantity available for sale. A SKU with a GTIN carries it as the
    LIN's second product id (UP for a 12-digit UPC, EN for a 13-digit EAN)."""
    body: list[Segment] = [("BIA", "00", "SI", reference, day.strftime("%Y%m%d"))]
    for sku, quantity in listings:
        gtin = (gtins or {}).get(sku, "")
        second = ("UP" if len(gtin) == 12 else "EN", gtin) if gtin else ()
        body += [("LIN", "", "SK", sku, *second), ("QTY", "33", str(quantity), "EA")]
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


def po1(line: PoLine, number: str) -> Segment:
    """A PO1 with the product ids the line has: VP (ours), BP (theirs), then UP or EN."""
    gtin = ("UP" if len(line.gtin) == 12 else "EN", line.gtin) if line.gtin else ()
    ids = [*(("VP", line.sku) if line.sku else ()),
           *(("BP", line.buyer_part) if line.buyer_part else ()), *gtin]
    return ("PO1", number, str(line.quantity), line.unit, line.price, "", *ids)


def purchase_order(order: PurchaseOrder) -> list[Segment]:
    body: list[Segment] = [("BEG", order.purpose, "SA", order.number, "", order.day)]
    body += [po1(line, line.number or str(n)) for n, line in enumerate(order.lines, start=1)]
    return [*body, ("CTT", str(len(order.lines)))]


def read_purchase_order(tx: Transaction) -> PurchaseOrder:
    """An 850. A line is read whatever product ids it has (or lacks) and whatever its quantity: which
    lines we can fill is decided line by line, and the 855 says so; only a PO without a number or
    without lines is refused as a whole."""
    body = _expect(tx, "850", "BEG")
    beg, lines = body[0], []
    for segment in body[1:]:
        if segment[0] == "PO1":
            ids = pairs(segment[6:])
            try:
                quantity = max(0, _quantity(element_at(segment, 2)))
            except X12Error:
                quantity = 0
            lines.append(PoLine(ids.get("VP", ""), quantity, element_at(segment, 4), ids.get("BP", ""),
                                ids.get("UP") or ids.get("EN", ""), element_at(segment, 1),
                                element_at(segment, 3) or "EA"))
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

