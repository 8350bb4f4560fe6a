"""X12 as the distributor reads and writes it: a strict reader for the interchanges its trading
partner drops (an 846 Inventory Advice, an 855 PO Acknowledgement, a 997 Functional
Acknowledgement), refusing any file whose ISA/IEA, GS/GE or ST/SE frame or counts are wrong or whose
version is not the one its guide names, and the writer of its 850 Purchase Orders. Delimiters are
the ones each ISA declares; ours are `*`, `>` and `~`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

Segment = tuple[str, ...]
OUR_DELIMITERS = ("*", ">", "~")
# ISA12, GS08 and ISA11 (5010 made it the repetition separator) of the versions distributors use.
VERSIONS = {"4010": ("00401", "004010", "U"), "5010": ("00501", "005010", "^")}


class EdiError(ValueError):
    """A file the distributor refuses."""


@dataclass(frozen=True, slots=True)
class Party:
    id: str
    qualifier: str = "ZZ"   # mutually defined: trading partners agree on their ids out of band


@dataclass(frozen=True, slots=True)
class TransactionSet:
    code: str                        # ST01: 846, 850, 997
    control: str                     # ST02
    body: tuple[Segment, ...]        # between ST and SE


@dataclass(frozen=True, slots=True)
class Interchange:
    sender: Party
    receiver: Party
    groups: tuple[tuple[str, str, tuple[TransactionSet, ...]], ...]   # (GS01, GS06, sets)
    version: str = ""   # a key of VERSIONS, "" when ISA12/GS08/ISA11 name none of them or disagree


def element(segment: Segment, position: int) -> str:
    return segment[position] if position < len(segment) else ""


def read(text: str) -> Interchange:
    """The interchange in `text`; EdiError unless every frame closes and every count is right."""
    isa, *inside = _segments(text)
    if not inside or inside[-1][0] != "IEA":
        raise EdiError("IEA trailer missing")
    groups, gs_versions = [], set()
    for gs, group_body, ge in _frames(inside[:-1], "GS", "GE"):
        sets = tuple(_transaction_set(st, body, se) for st, body, se in _frames(group_body, "ST", "SE"))
        _check_trailer(ge, "GE", len(sets), element(gs, 6))
        groups.append((element(gs, 1), element(gs, 6), sets))
        gs_versions.add(element(gs, 8))
    _check_trailer(inside[-1], "IEA", len(groups), element(isa, 13))
    sender = Party(element(isa, 6).strip(), element(isa, 5))
    version = next((name for name, (isa12, gs08, isa11) in VERSIONS.items()
                    if (element(isa, 12), element(isa, 11)) == (isa12, isa11) and gs_versions <= {gs08}), "")
    return Interchange(sender, Party(element(isa, 8).strip(), element(isa, 7)), tuple(groups), version)


def _segments(text: str) -> list[Segment]:
    text = text.lstrip()
    if len(text) < 106 or not text.startswith("ISA"):
        raise EdiError("not an X12 interchange: no ISA header")
    separator = text[3]
    positions = [i for i, char in enumerate(text[:200]) if char == separator]
    if len(positions) < 16:
        raise EdiError("ISA header has fewer than 16 elements")
    terminator = text[positions[15] + 2]
    if terminator.isalnum() or terminator == separator:
        raise EdiError(f"ISA header: {terminator!r} cannot be a segment terminator")
    pieces = (piece.strip("\r\n") for piece in text.split(terminator))
    return [tuple(piece.split(separator)) for piece in pieces if piece.strip()]


def _frames(segments: Sequence[Segment], opener: str, closer: str
            ) -> list[tuple[Segment, tuple[Segment, ...], Segment]]:
    """Split `segments` into opener..closer frames, refusing anything between or after them."""
    frames, start = [], 0
    while start < len(segments):
        if segments[start][0] != opener:
            raise EdiError(f"{segments[start][0]} outside a {opener}..{closer} frame")
        end = next((i for i in range(start + 1, len(segments)) if segments[i][0] == closer), None)
        if end is None:
            raise EdiError(f"{'|'.join(segments[start][:3])}: {closer} missing")
        frames.append((segments[start], tuple(segments[start + 1:end]), segments[end]))
        start = end + 1
    return frames


def _transaction_set(st: Segment, body: tuple[Segment, ...], se: Segment) -> TransactionSet:
    control = element(st, 2)
    if element(se, 2) != control:
        raise EdiError(f"transaction set {control}: SE02 {element(se, 2)!r} does not match ST02")
    if element(se, 1) != str(len(body) + 2):
        raise EdiError(f"transaction set {control}: SE01 says {element(se, 1)!r} segments, "
                       f"ST..SE holds {len(body) + 2}")
    return TransactionSet(element(st, 1), control, body)


def _check_trailer(trailer: Segment, tag: str, count: int, control: str) -> None:
    given = element(trailer, 2)
    if not (given.isdigit() and control.isdigit() and int(given) == int(control)):
        raise EdiError(f"{tag}02 {given!r} does not match the header's control number {control!r}")
    if element(trailer, 1) != str(count):
        raise EdiError(f"{tag}01 says {element(trailer, 1)!r}, the frame holds {count}")


def _units(text: str) -> int:
    try:
        return int(float(text)) if text.strip() else 0
    except ValueError as exc:
        raise EdiError(f"{text!r} is not a quantity") from exc


def inventory_advice(tx: TransactionSet) -> list[tuple[str, int]]:
    """(SKU, quantity available for sale) from an 846: LIN with an SK id, then its QTY*33."""
    if tx.code != "846" or not tx.body or tx.body[0][0] != "BIA":
        raise EdiError(f"transaction set {tx.control}: expected an 846 starting with BIA")
    advised: list[tuple[str, int]] = []
    sku = ""
    for segment in tx.body[1:]:
        if segment[0] == "LIN":
            ids = segment[2:]
            sku = next((ids[i + 1] for i in range(0, len(ids) - 1, 2) if ids[i] == "SK"), "")
        elif segment[0] == "QTY" and element(segment, 1) == "33" and sku:
            advised.append((sku, _units(element(segment, 2))))
            sku = ""
        elif segment[0] == "CTT" and element(segment, 1) != str(len(advised)):
            raise EdiError(f"846 {tx.control}: CTT says {element(segment, 1)!r} items, found {len(advised)}")
    return advised


def advised_gtins(tx: TransactionSet) -> dict[str, str]:
    """{SKU: GTIN} from the LINs of an 846 that carry a UP (UPC-12) or EN (EAN-13) beside the SK;
    a GTIN of the wrong length or with a wrong GS1 check digit refuses the file."""
    found: dict[str, str] = {}
    for segment in tx.body:
        if segment[0] != "LIN":
            continue
        ids = dict(zip(segment[2::2], segment[3::2], strict=False))
        for qualifier, length in (("UP", 12), ("EN", 13)):
            gtin = ids.get(qualifier)
            if gtin is not None and not _gtin_ok(gtin, length):
                raise EdiError(f"846 {tx.control}: LIN {qualifier} {gtin!r} is not a valid GTIN-{length}")
            if gtin is not None and ids.get("SK"):
                found[ids["SK"]] = gtin
    return found


def _gtin_ok(gtin: str, length: int) -> bool:
    if len(gtin) != length or not gtin.isdigit():
        return False
    weighted = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(gtin[:-1])))
    return (10 - weighted % 10) % 10 == int(gtin[-1])


def acknowledged_sets(tx: TransactionSet) -> tuple[str, list[tuple[str, bool]]]:
    """(the group acknowledged, [(its set's ST02, accepted)]) from a 997."""
    if tx.code != "997" or not tx.body or tx.body[0][0] != "AK1":
        raise EdiError(f"transaction set {tx.control}: expected a 997 starting with AK1")
    verdicts: list[tuple[str, bool]] = []
    for segment in tx.body[1:]:
        if segment[0] == "AK2":
            verdicts.append((element(segment, 2), True))
        elif segment[0] == "AK5" and verdicts:
            verdicts[-1] = (verdicts[-1][0], element(segment, 1) in ("A", "E"))
    return element(tx.body[0], 2), verdicts


POLine = tuple[int, str, Sequence[tuple[str, str]]]   # quantity, unit price, (qualifier, id) pairs


def purchase_order_file(sender: Party, receiver: Party, control: int, when: datetime, po: tuple[str, str],
                        lines: Sequence[POLine], version: str = "4010") -> str:
    """One interchange holding one 850: `po` is (BEG01 purpose, BEG03 number); each line is
    (quantity, unit price, product ids as (qualifier, id) pairs: VP the vendor's part number, BP
    ours, UP/EN the GTIN) and becomes a PO1 numbered from 1."""
    purpose, number = po
    body: list[Segment] = [("BEG", purpose, "SA", number, "", when.strftime("%Y%m%d"))]
    for line_no, (quantity, price, ids) in enumerate(lines, start=1):
        ids_flat = (part for pair in ids for part in pair)
        body.append(("PO1", str(line_no), str(quantity), "EA", price, "", *ids_flat))
    body.append(("CTT", str(len(lines))))
    isa12, gs08, isa11 = VERSIONS[version]
    isa = ("ISA", "00", " " * 10, "00", " " * 10, sender.qualifier, sender.id.ljust(15), receiver.qualifier,
           receiver.id.ljust(15), when.strftime("%y%m%d"), when.strftime("%H%M"), isa11, isa12,
           f"{control:09d}", "0", "P", OUR_DELIMITERS[1])
    gs = ("GS", "PO", sender.id, receiver.id, when.strftime("%Y%m%d"), when.strftime("%H%M"), str(control),
          "X", gs08)
    frame = [gs, ("ST", "850", "0001"), *body, ("SE", str(len(body) + 2), "0001"), ("GE", "1", str(control)),
             ("IEA", "1", f"{control:09d}")]
    return _text(isa) + "".join(_text(segment, checked=True) for segment in frame)


def _text(segment: Segment, checked: bool = False) -> str:
    if checked and any(mark in value for value in segment for mark in (*OUR_DELIMITERS, "\r", "\n")):
        raise EdiError(f"{segment[0]}: an element holds an X12 delimiter")
    return OUR_DELIMITERS[0].join(segment).rstrip(OUR_DELIMITERS[0]) + OUR_DELIMITERS[2]
