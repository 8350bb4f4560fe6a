"""X12 EDI as wholesale distributors trade it: the ISA/GS/ST envelope, the 846 Inventory Advice we
send, the 850 Purchase Order they send and the 997 Functional Acknowledgement we answer with.

Pure text in, text out: no network, no files. Reading is lenient about structure (a missing trailer
is reported, not thrown) so that a broken file can still be acknowledged with the right control
numbers and the right AK5/AK9 error codes; `parse_interchange` is the strict form.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

SEGMENT, ELEMENT, COMPONENT = "~", "*", ">"
ISA_VERSION, GS_VERSION = "00401", "004010"
FUNCTIONAL_IDS = {"846": "IB", "850": "PO", "997": "FA"}

Segment = tuple[str, ...]


class X12Error(ValueError):
    """A file that is not the X12 we expect. `code` is the AK5 (transaction set) syntax error code
    a 997 would carry: 5 = one or more segments in error."""

    def __init__(self, message: str, code: str = "5"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    qualifier: str = "ZZ"  # mutually defined; trading partners agree on ids out of band


@dataclass(frozen=True, slots=True)
class Envelope:
    """The header values of one interchange holding one functional group."""

    sender: Party
    receiver: Party
    control: int        # ISA13 and GS06: one group per interchange, so one number serves both
    when: datetime
    usage: str = "P"    # ISA15: P production, T test


@dataclass(frozen=True, slots=True)
class Transaction:
    segments: tuple[Segment, ...]   # ST..SE inclusive (SE missing when the file is cut short)

    @property
    def set_id(self) -> str:
        return _at(self.segments[0], 1)

    @property
    def control(self) -> str:
        return _at(self.segments[0], 2)

    @property
    def body(self) -> tuple[Segment, ...]:
        end = -1 if self.segments[-1][0] == "SE" else len(self.segments)
        return self.segments[1:end]

    def error(self) -> tuple[str, str] | None:
        """(AK5 code, message) when the ST/SE frame is wrong, else None."""
        trailer = self.segments[-1]
        if len(self.segments) < 2 or trailer[0] != "SE":
            return "2", f"transaction set {self.control}: SE trailer missing"
        if _at(trailer, 2) != self.control:
            return "3", f"transaction set {self.control}: SE02 {_at(trailer, 2)!r} does not match ST02"
        if _at(trailer, 1) != str(len(self.segments)):
            return "4", (f"transaction set {self.control}: SE01 says {_at(trailer, 1)!r} segments, "
                         f"ST..SE holds {len(self.segments)}")
        return None


@dataclass(frozen=True, slots=True)
class Group:
    header: Segment                      # GS
    transactions: tuple[Transaction, ...]
    trailer: Segment | None              # GE

    @property
    def functional_id(self) -> str:
        return _at(self.header, 1)

    @property
    def control(self) -> str:
        return _at(self.header, 6)

    def error(self) -> tuple[str, str] | None:
        """(AK9 code, message) when the GS/GE frame is wrong, else None."""
        if self.trailer is None:
            return "3", f"group {self.control}: GE trailer missing"
        if not _same_number(_at(self.trailer, 2), self.control):
            return "4", f"group {self.control}: GE02 {_at(self.trailer, 2)!r} does not match GS06"
        if _at(self.trailer, 1) != str(len(self.transactions)):
            return "5", (f"group {self.control}: GE01 says {_at(self.trailer, 1)!r} transaction sets, "
                         f"the group holds {len(self.transactions)}")
        return None


@dataclass(frozen=True, slots=True)
class Interchange:
    header: Segment                      # ISA
    groups: tuple[Group, ...]
    trailer: Segment | None              # IEA

    @property
    def sender(self) -> Party:
        return Party(_at(self.header, 6).strip(), _at(self.header, 5))

    @property
    def receiver(self) -> Party:
        return Party(_at(self.header, 8).strip(), _at(self.header, 7))

    @property
    def control(self) -> str:
        return _at(self.header, 13)

    def error(self) -> str | None:
        """What is wrong with the ISA/IEA frame itself, if anything."""
        if self.trailer is None:
            return "IEA trailer missing"
        if not _same_number(_at(self.trailer, 2), self.control):
            return f"IEA02 {_at(self.trailer, 2)!r} does not match ISA13 {self.control!r}"
        if _at(self.trailer, 1) != str(len(self.groups)):
            return f"IEA01 says {_at(self.trailer, 1)!r} groups, found {len(self.groups)}"
        return None

    def errors(self) -> list[str]:
        """Every envelope problem: interchange, group and transaction set frames."""
        found = [problem for problem in [self.error()] if problem]
        for group in self.groups:
            found += [problem[1] for problem in [group.error()] if problem]
            found += [problem[1] for tx in group.transactions if (problem := tx.error())]
        return found


# --- writing ------------------------------------------------------------------------------------

def write_interchange(envelope: Envelope, functional_id: str,
                      sets: Sequence[tuple[str, Sequence[Segment]]]) -> str:
    """One interchange holding one group of transaction sets, each given as (ST01, body segments).
    ST02 numbers the sets 0001, 0002, ...; SE01 counts ST..SE inclusive."""
    when, control = envelope.when, str(envelope.control)
    segments: list[Segment] = [_isa(envelope), (
        "GS", functional_id, envelope.sender.id, envelope.receiver.id, when.strftime("%Y%m%d"),
        when.strftime("%H%M"), control, "X", GS_VERSION)]
    for number, (set_id, body) in enumerate(sets, start=1):
        st_control = f"{number:04d}"
        segments += [("ST", set_id, st_control), *body, ("SE", str(len(body) + 2), st_control)]
    segments += [("GE", str(len(sets)), control), ("IEA", "1", f"{envelope.control:09d}")]
    return "".join(_segment_text(segment) for segment in segments)


def _isa(envelope: Envelope) -> Segment:
    if not 0 < envelope.control < 10**9:
        raise X12Error(f"control number {envelope.control} does not fit ISA13 (1..999999999)")
    ids = []
    for party in (envelope.sender, envelope.receiver):
        if not 0 < len(party.id) <= 15 or len(party.qualifier) != 2:
            raise X12Error(f"ISA id {party.id!r}/{party.qualifier!r}: ids are 1..15 characters")
        _check_elements(("ISA", party.id, party.qualifier))
        ids += [party.qualifier, party.id.ljust(15)]
    when = envelope.when
    return ("ISA", "00", " " * 10, "00", " " * 10, *ids, when.strftime("%y%m%d"), when.strftime("%H%M"),
            "U", ISA_VERSION, f"{envelope.control:09d}", "0", envelope.usage, COMPONENT)


def _segment_text(segment: Segment) -> str:
    """Trailing empty elements are dropped, as X12 requires. (ISA16 is the component separator
    itself, so the ISA is exempt from the delimiter check; its ids are checked in `_isa`.)"""
    if segment[0] != "ISA":
        _check_elements(segment)
    return ELEMENT.join(segment).rstrip(ELEMENT) + SEGMENT


def _check_elements(segment: Segment) -> None:
    for element in segment:
        if any(mark in element for mark in (SEGMENT, ELEMENT, COMPONENT, "\n", "\r")):
            raise X12Error(f"{segment[0]}: {element!r} holds an X12 delimiter")


# --- reading ------------------------------------------------------------------------------------

def split_segments(text: str) -> list[Segment]:
    """Segments of an interchange, with the delimiters the ISA itself declares (element separator
    after "ISA", component separator ISA16, terminator right after it); line breaks between
    segments are tolerated."""
    text = text.lstrip()
    if not text.startswith("ISA") or len(text) < 106:
        raise X12Error("not an X12 interchange: no ISA header")
    element = text[3]
    cut = -1
    for _ in range(16):
        cut = text.find(element, cut + 1)
        if cut < 0:
            raise X12Error("ISA header has fewer than 16 elements")
    terminator = text[cut + 2]
    if terminator.isalnum() or terminator == element:
        raise X12Error(f"ISA header: {terminator!r} cannot be a segment terminator")
    return [tuple(part.strip("\r\n").split(element)) for part in text.split(terminator) if part.strip()]


def read_interchange(text: str) -> Interchange:
    """The structure of an interchange; frame problems are left for `errors()` to report."""
    segments = split_segments(text)
    groups: list[tuple[Segment, list[list[Segment]], Segment | None]] = []
    trailer: Segment | None = None
    open_set: list[Segment] | None = None
    for segment in segments[1:]:
        tag = segment[0]
        if trailer is not None:
            raise X12Error(f"{tag} after the IEA trailer")
        if tag in ("GS", "GE", "IEA"):
            open_set = None
            if tag == "GS":
                groups.append((segment, [], None))
            elif tag == "GE" and groups and groups[-1][2] is None:
                groups[-1] = (groups[-1][0], groups[-1][1], segment)
            elif tag == "IEA":
                trailer = segment
            else:
                raise X12Error("GE without a GS")
        elif not groups or groups[-1][2] is not None:
            raise X12Error(f"{tag} outside a functional group")
        elif tag == "ST":
            open_set = [segment]
            groups[-1][1].append(open_set)
        elif open_set is None:
            raise X12Error(f"{tag} outside a transaction set")
        else:
            open_set.append(segment)
            if tag == "SE":
                open_set = None
    return Interchange(segments[0], tuple(
        Group(gs, tuple(Transaction(tuple(tx)) for tx in sets), ge) for gs, sets, ge in groups), trailer)


def parse_interchange(text: str) -> Interchange:
    """`read_interchange`, refusing any frame problem."""
    interchange = read_interchange(text)
    if problems := interchange.errors():
        raise X12Error("; ".join(problems))
    return interchange


def _at(segment: Segment, index: int) -> str:
    return segment[index] if index < len(segment) else ""


def _same_number(a: str, b: str) -> bool:
    """Control numbers are numeric (N0): "000000007" and "7" are the same one."""
    return a.lstrip("0") == b.lstrip("0") and a.isdigit() and b.isdigit()


# --- documents ----------------------------------------------------------------------------------

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
        elif segment[0] == "QTY" and _at(segment, 1) == "33" and sku:
            found.append((sku, _quantity(_at(segment, 2))))
            sku = None
        elif segment[0] == "CTT" and _at(segment, 1) != str(len(found)):
            raise X12Error(f"846 {tx.control}: CTT says {_at(segment, 1)!r} items, found {len(found)}")
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
            quantity = _quantity(_at(segment, 2))
            if not sku or quantity <= 0:
                raise X12Error(f"850 {tx.control}: PO1 {_at(segment, 1)} has no BP part number or quantity")
            lines.append(PoLine(sku, quantity, _at(segment, 4), pairs(segment[6:]).get("VP", "")))
    if not _at(beg, 3) or not lines:
        raise X12Error(f"850 {tx.control}: no PO number or no PO1 lines")
    return PurchaseOrder(_at(beg, 3), _at(beg, 5), tuple(lines), _at(beg, 1))


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
    results: list[SetResult] = []
    for segment in body[1:]:
        if segment[0] == "AK2":
            results.append(SetResult(_at(segment, 1), _at(segment, 2)))
        elif segment[0] == "AK5" and results:
            code = "" if _at(segment, 1) in ("A", "E") else _at(segment, 2) or "5"
            results[-1] = SetResult(results[-1].set_id, results[-1].control, code)
        elif segment[0] == "AK9" and _at(segment, 1) == "R" and not results:
            return FunctionalAck(_at(body[0], 1), _at(body[0], 2), (), _at(segment, 5) or "1")
    return FunctionalAck(_at(body[0], 1), _at(body[0], 2), tuple(results))


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


class ControlNumbers:
    """ISA13 numbers that keep rising across restarts without stored state: each is at least the
    clock in tenths of a second (mod 10^9, so a wrap every ~3 years) and one more than the last.
    Unique while we send fewer than ten interchanges a second on average."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        from_clock = int(self._clock() * 10) % 10**9 or 1
        self._last = 1 if self._last >= 10**9 - 1 else max(from_clock, self._last + 1)
        return self._last
