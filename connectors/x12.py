"""X12 EDI as wholesale distributors trade it: the ISA/GS/ST envelope around the documents (the
846 Inventory Advice we send, the 850 Purchase Order they send, the 997 Functional Acknowledgement we
answer with) and the control numbers we give our interchanges.

Pure text in, text out: no network, no files. Reading is lenient about structure (a missing trailer
is reported, not thrown) so that a broken file can still be acknowledged with the right control
numbers and the right AK5/AK9 error codes; `parse_interchange` is the strict form.

The documents are in x12_documents and the segment syntax in x12_segments; both are re-exported
here, so `x12.<name>` reaches all of X12.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from connectors.x12_documents import (
    FunctionalAck,
    PoLine,
    PurchaseOrder,
    SetResult,
    functional_ack,
    inventory_advice,
    pairs,
    purchase_order,
    read_functional_ack,
    read_inventory_advice,
    read_purchase_order,
)
from connectors.x12_po_ack import po_acknowledgement
from connectors.x12_segments import (
    COMPONENT,
    ELEMENT,
    SEGMENT,
    Segment,
    X12Error,
    check_elements,
    element_at,
    segment_text,
    split_segments,
)

__all__ = [
    "COMPONENT",
    "ELEMENT",
    "FUNCTIONAL_IDS",
    "GS_VERSION",
    "ISA_VERSION",
    "SEGMENT",
    "VERSIONS",
    "ControlNumbers",
    "Envelope",
    "FunctionalAck",
    "Group",
    "Interchange",
    "Party",
    "PoLine",
    "PurchaseOrder",
    "Segment",
    "SetResult",
    "Transaction",
    "X12Error",
    "check_elements",
    "functional_ack",
    "inventory_advice",
    "pairs",
    "parse_interchange",
    "po_acknowledgement",
    "purchase_order",
    "read_functional_ack",
    "read_interchange",
    "read_inventory_advice",
    "read_purchase_order",
    "split_segments",
    "write_interchange",
]

ISA_VERSION, GS_VERSION = "00401", "004010"
# ISA12 and GS08 of each version; 5010 turns ISA11 into the repetition separator (`^`).
VERSIONS = {"4010": ("00401", "004010", "U"), "5010": ("00501", "005010", "^")}
FUNCTIONAL_IDS = {"846": "IB", "850": "PO", "855": "PR", "997": "FA"}


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
    version: str = "4010"   # a key of VERSIONS: the distributor's guide picks it


@dataclass(frozen=True, slots=True)
class Transaction:
    segments: tuple[Segment, ...]   # ST..SE inclusive (SE missing when the file is cut short)

    @property
    def set_id(self) -> str:
        return element_at(self.segments[0], 1)

    @property
    def control(self) -> str:
        return element_at(self.segments[0], 2)

    @property
    def body(self) -> tuple[Segment, ...]:
        end = -1 if self.segments[-1][0] == "SE" else len(self.segments)
        return self.segments[1:end]

    def error(self) -> tuple[str, str] | None:
        """(AK5 code, message) when the ST/SE frame is wrong, else None."""
        trailer = self.segments[-1]
        if len(self.segments) < 2 or trailer[0] != "SE":
            return "2", f"transaction set {self.control}: SE trailer missing"
        if element_at(trailer, 2) != self.control:
            return "3", f"transaction set {self.control}: SE02 {element_at(trailer, 2)!r} does not match ST02"
        if element_at(trailer, 1) != str(len(self.segments)):
            return "4", (f"transaction set {self.control}: SE01 says {element_at(trailer, 1)!r} segments, "
                         f"ST..SE holds {len(self.segments)}")
        return None


@dataclass(frozen=True, slots=True)
class Group:
    header: Segment                      # GS
    transactions: tuple[Transaction, ...]
    trailer: Segment | None              # GE

    @property
    def functional_id(self) -> str:
        return element_at(self.header, 1)

    @property
    def control(self) -> str:
        return element_at(self.header, 6)

    def error(self) -> tuple[str, str] | None:
        """(AK9 code, message) when the GS/GE frame is wrong, else None."""
        if self.trailer is None:
            return "3", f"group {self.control}: GE trailer missing"
        if not _same_number(element_at(self.trailer, 2), self.control):
            return "4", f"group {self.control}: GE02 {element_at(self.trailer, 2)!r} does not match GS06"
        if element_at(self.trailer, 1) != str(len(self.transactions)):
            return "5", (f"group {self.control}: GE01 says {element_at(self.trailer, 1)!r} transaction sets, "
                         f"the group holds {len(self.transactions)}")
        return None


@dataclass(frozen=True, slots=True)
class Interchange:
    header: Segment                      # ISA
    groups: tuple[Group, ...]
    trailer: Segment | None              # IEA

    @property
    def sender(self) -> Party:
        return Party(element_at(self.header, 6).strip(), element_at(self.header, 5))

    @property
    def receiver(self) -> Party:
        return Party(element_at(self.header, 8).strip(), element_at(self.header, 7))

    @property
    def control(self) -> str:
        return element_at(self.header, 13)

    def error(self) -> str | None:
        """What is wrong with the ISA/IEA frame itself, if anything."""
        if self.trailer is None:
            return "IEA trailer missing"
        if not _same_number(element_at(self.trailer, 2), self.control):
            return f"IEA02 {element_at(self.trailer, 2)!r} does not match ISA13 {self.control!r}"
        if element_at(self.trailer, 1) != str(len(self.groups)):
            return f"IEA01 says {element_at(self.trailer, 1)!r} groups, found {len(self.groups)}"
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
        when.strftime("%H%M"), control, "X", _version(envelope)[1])]
    for number, (set_id, body) in enumerate(sets, start=1):
        st_control = f"{number:04d}"
        segments += [("ST", set_id, st_control), *body, ("SE", str(len(body) + 2), st_control)]
    segments += [("GE", str(len(sets)), control), ("IEA", "1", f"{envelope.control:09d}")]
    return "".join(segment_text(segment) for segment in segments)


def _isa(envelope: Envelope) -> Segment:
    if not 0 < envelope.control < 10**9:
        raise X12Error(f"control number {envelope.control} does not fit ISA13 (1..999999999)")
    ids = []
    for party in (envelope.sender, envelope.receiver):
        if not 0 < len(party.id) <= 15 or len(party.qualifier) != 2:
            raise X12Error(f"ISA id {party.id!r}/{party.qualifier!r}: ids are 1..15 characters")
        check_elements(("ISA", party.id, party.qualifier))
        ids += [party.qualifier, party.id.ljust(15)]
    when, (isa12, _, isa11) = envelope.when, _version(envelope)
    return ("ISA", "00", " " * 10, "00", " " * 10, *ids, when.strftime("%y%m%d"), when.strftime("%H%M"),
            isa11, isa12, f"{envelope.control:09d}", "0", envelope.usage, COMPONENT)


def _version(envelope: Envelope) -> tuple[str, str, str]:
    if envelope.version not in VERSIONS:
        raise X12Error(f"X12 version {envelope.version!r} is not one of {', '.join(VERSIONS)}")
    return VERSIONS[envelope.version]


# --- reading ------------------------------------------------------------------------------------

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


def _same_number(a: str, b: str) -> bool:
    """Control numbers are numeric (N0): "000000007" and "7" are the same one."""
    return a.lstrip("0") == b.lstrip("0") and a.isdigit() and b.isdigit()


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
