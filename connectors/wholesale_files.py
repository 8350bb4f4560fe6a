"""The distributor's files as data, with no SFTP in sight: the folder layout, which names are still
being written, PO files (X12 850 or CSV) read into order events together with the 997 content that
answers them, the inventory file we send and the inventory report we read back.

Pure: text in, events and text out. WholesaleConnector moves the files; this reads and writes them.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from connectors import x12
from connectors.base import Listing, OrderEvent, OrderEventKind, OrderLine

log = logging.getLogger(__name__)

DEFAULT_FOLDERS = {
    "outbound_846": "outbound/846",
    "inbound_850": "inbound/850",
    "outbound_997": "outbound/997",
    "outbound_855": "outbound/855",
    "archive": "inbound/850/archive",
    "error": "inbound/850/error",
    "inventory_report": "reports/inventory.csv",
}
PURPOSES = {"00": OrderEventKind.CREATED, "07": OrderEventKind.CREATED, "01": OrderEventKind.CANCELLED}


def is_temporary(name: str) -> bool:
    """Names being written (ours and, by convention, the distributor's): never read them."""
    return name.startswith(".") or name.endswith((".part", ".tmp"))


# --- reading POs ---------------------------------------------------------------------------------

def orders_from_x12(name: str, text: str, cross_reference: Mapping[str, str] | None = None
                    ) -> tuple[list[OrderEvent], list[dict[str, Any]]]:
    """Events for the good POs of a file, and the 997 content answering all of it (as plain data,
    so it can ride in the events' `raw` until confirm). `cross_reference` maps the distributor's
    part numbers (BP) to our SKUs, for lines that do not name our SKU (VP) or a GTIN we know."""
    interchange = x12.read_interchange(text)
    events: list[OrderEvent] = []
    acks: list[dict[str, Any]] = []
    for group in interchange.groups:
        found, ack = _answer_group(interchange, group, name, cross_reference or {})
        events += found
        acks.append(ack)
    raw = {"file": name, "format": "x12", "acks": acks}
    return [_with_raw(event, raw) for event in events], acks


def _answer_group(interchange: x12.Interchange, group: x12.Group, name: str,
                  cross_reference: Mapping[str, str]) -> tuple[list[OrderEvent], dict[str, Any]]:
    """A broken interchange or group frame rejects every set in it; otherwise each set stands alone."""
    group_error = group.error() or (("1", "not a PO group") if group.functional_id != "PO" else None)
    frame = interchange.error() or (group_error[1] if group_error else None)
    events, results = [], []
    for tx in group.transactions:
        code, message = tx.error() or (("5", frame) if frame else ("", ""))
        if not code:
            try:
                events.append(_x12_event(interchange, group, tx, cross_reference))
            except x12.X12Error as exc:
                code, message = exc.code, str(exc)
        if code:
            log.error("wholesale: %s: PO set %s rejected (AK5 %s): %s", name, tx.control, code, message)
        results.append([tx.set_id, tx.control, code])
    ack = {"group": group.functional_id, "control": group.control, "sets": results,
           "code": group_error[0] if group_error else ""}
    return events, ack


def _x12_event(interchange: x12.Interchange, group: x12.Group, tx: x12.Transaction,
               cross_reference: Mapping[str, str]) -> OrderEvent:
    po = x12.read_purchase_order(tx)
    kind = PURPOSES.get(po.purpose)
    if kind is None:
        raise x12.X12Error(f"850 {tx.control}: BEG01 purpose {po.purpose!r} is not one we take")
    # Keyed on the PO number, not ISA13: a distributor that resends a PO (BEG01 07) does so in a
    # new interchange, and it must not be reserved twice.
    return OrderEvent(
        event_id=f"{interchange.sender.id}:{po.number}:{kind.value}", kind=kind, order_id=po.number,
        lines=tuple(OrderLine(line.sku, line.quantity, line.gtin, cross_reference.get(line.buyer_part, ""))
                    for line in po.lines),
        occurred_at=_group_time(group),
        raw={"isa13": interchange.control, "st02": tx.control, "po": po_data(po)})


def po_data(po: x12.PurchaseOrder) -> dict[str, Any]:
    """The PO as plain data (events' `raw` crosses the actor boundary), for its 855."""
    return {"number": po.number, "day": po.day, "purpose": po.purpose,
            "lines": [[line.sku, line.quantity, line.price, line.buyer_part, line.gtin, line.number,
                       line.unit] for line in po.lines]}


def po_of(data: Mapping[str, Any]) -> x12.PurchaseOrder:
    return x12.PurchaseOrder(data["number"], data["day"], tuple(x12.PoLine(*line) for line in data["lines"]),
                             data["purpose"])


def orders_from_csv(sender: str, name: str, text: str) -> tuple[list[OrderEvent], list[dict[str, Any]]]:
    """`po_number,sku,quantity` rows; a PO may span rows. There is no 997 in CSV."""
    reader = csv.DictReader(io.StringIO(text))
    if not {"po_number", "sku", "quantity"} <= set(reader.fieldnames or ()):
        raise ValueError("a PO CSV needs the header po_number,sku,quantity")
    lines: dict[str, list[OrderLine]] = {}
    for row in reader:
        quantity = int(row["quantity"] or "0")
        if not row["po_number"] or not row["sku"] or quantity <= 0:
            raise ValueError(f"row {row}: a PO number, a SKU and a positive quantity are needed")
        lines.setdefault(row["po_number"], []).append(OrderLine(row["sku"], quantity))
    raw = {"file": name, "format": "csv"}
    return [OrderEvent(f"{sender}:{po}:created", OrderEventKind.CREATED, po, tuple(found), raw=raw)
            for po, found in lines.items()], []


def _with_raw(event: OrderEvent, raw: Mapping[str, Any]) -> OrderEvent:
    return OrderEvent(event.event_id, event.kind, event.order_id, event.lines, event.occurred_at,
                      {**event.raw, **raw})


def _group_time(group: x12.Group) -> float | None:
    try:
        at = datetime.strptime(group.header[4] + group.header[5][:4], "%Y%m%d%H%M")
        return at.replace(tzinfo=UTC).timestamp()
    except (IndexError, ValueError):
        return None


def ack_of(data: Mapping[str, Any]) -> x12.FunctionalAck:
    """The 997 content `orders_from_x12` gave as plain data, back as a FunctionalAck."""
    return x12.FunctionalAck(data["group"], data["control"],
                             tuple(x12.SetResult(*result) for result in data["sets"]), data["code"])


# --- inventory files -----------------------------------------------------------------------------

def listing_error(item: Listing) -> str:
    if not item.sku or len(item.sku) > 48 or any(mark in item.sku for mark in "~*>,\"\r\n"):
        return f"SKU {item.sku!r} cannot be sent in an inventory file"
    return "quantity must not be negative" if item.quantity < 0 else ""


def csv_text(rows: Sequence[tuple[object, ...]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


def report_quantities(text: str) -> dict[str, int]:
    """The distributor's inventory report (`sku,quantity`); KeyError or ValueError when it is not that."""
    return {row["sku"]: int(row["quantity"] or "") for row in csv.DictReader(io.StringIO(text))}
