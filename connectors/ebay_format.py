"""eBay's Trading API formats as the eBay connector reads them, without any I/O: the per-item outcome
of ReviseInventoryStatus (Ack and Errors), GetOrders orders as order events, the polling cursor, and
Platform Notifications (their NotificationSignature and the purchases they carry).

eBay names the item an error is about in the error's `ErrorParameters` (the SKU or ItemID as a
`Value`), so a failed item is told apart from the ones applied beside it; an error naming no item of
the batch fails every item not echoed back in `InventoryStatus`, so nothing unconfirmed is marked
pushed. A Warning is a success.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from connectors.base import Listing, OrderEvent, OrderEventKind, OrderLine, PushResult
from connectors.limits import RateSpec

NS = "urn:ebay:apis:eBLBaseComponents"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
BINDING = f"{{{NS}}}eBayAPISoapBinding"
DEFAULT_VERSION = "1423"
MAX_INVENTORY_STATUSES = 4          # eBay's limit per ReviseInventoryStatus call
USAGE_LIMIT_ERROR = "518"
AUTH_ERRORS = frozenset({"931", "932", "16110"})  # invalid, hard-expired, revoked token
NOTIFICATION_MAX_AGE = 600.0        # eBay: refuse a notification whose Timestamp is over 10 min off
# Short-duration limit: 6,000 ReviseInventoryStatus calls per seller in any 15 s. A bucket of 3,000
# refilling 200/s lets through at most 3,000 + 15 * 200 = 6,000 in any 15-s window.
REVISE_LIMIT = RateSpec(rate=200.0, burst=3000.0)
ORDER_KINDS = {"Active": OrderEventKind.CREATED, "Completed": OrderEventKind.SHIPPED,
               "Shipped": OrderEventKind.SHIPPED, "Cancelled": OrderEventKind.CANCELLED}
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def configured_limit(options: Mapping[str, Any]) -> RateSpec:
    """The published limit, or `options["rate_limit"]` = {"calls": n, "window_s": s} for another."""
    given = options.get("rate_limit") or {}
    if not given:
        return REVISE_LIMIT
    calls, window = float(given["calls"]), float(given["window_s"])
    return RateSpec(rate=calls / 2 / window, burst=max(1.0, calls / 2))


# --- Ack and Errors -------------------------------------------------------------------------------

def _errors(payload: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(payload.get("Errors") or [])


def error_codes(payload: Mapping[str, Any], severity: str = "Error") -> set[str]:
    return {str(e.get("ErrorCode")) for e in _errors(payload)
            if (e.get("SeverityCode") or "Error") == severity}


def errors_text(payload: Mapping[str, Any]) -> str:
    return "; ".join(f"{e.get('ErrorCode')} {e.get('LongMessage') or e.get('ShortMessage')}"
                     for e in _errors(payload)) or f"Ack {payload.get('Ack')}"


def _named(error: Mapping[str, Any]) -> set[str]:
    return {str(p.get("Value")) for p in error.get("ErrorParameters") or [] if p.get("Value") is not None}


def push_results(batch: Sequence[Listing], item_ids: Mapping[str, str],
                 payload: Mapping[str, Any]) -> list[PushResult]:
    """One result per listing of a ReviseInventoryStatus call, from its Ack and Errors."""
    if payload.get("Ack") in ("Success", "Warning"):
        return [PushResult(listing.sku, True) for listing in batch]
    echoed = {str(s.get("SKU")) for s in payload.get("InventoryStatus") or []}
    echoed |= {sku for sku, item in item_ids.items()
               if item in {str(s.get("ItemID")) for s in payload.get("InventoryStatus") or []}}
    failures = [e for e in _errors(payload) if (e.get("SeverityCode") or "Error") == "Error"]
    results = []
    for listing in batch:
        names = {listing.sku, item_ids.get(listing.sku, listing.sku)}
        own = [e for e in failures if _named(e) & names]
        if own:
            results.append(PushResult(listing.sku, False, errors_text({"Errors": own})))
        elif listing.sku in echoed:
            results.append(PushResult(listing.sku, True))
        else:
            results.append(PushResult(listing.sku, False, errors_text(payload)))
    return results


# --- orders ---------------------------------------------------------------------------------------

def order_event(order: Mapping[str, Any]) -> OrderEvent | None:
    """The event for a GetOrders order as zeep read it; None for a state we do not act on
    (CancelPending waits for the buyer's cancel to complete) or an order with no SKU'd line."""
    kind = ORDER_KINDS.get(str(order.get("OrderStatus")))
    transactions = ((order.get("TransactionArray") or {}).get("Transaction")) or []
    lines = tuple(line for t in transactions if (line := transaction_line(t)) is not None)
    if kind is None or not lines or not order.get("OrderID"):
        return None
    order_id = str(order["OrderID"])
    changed = (order.get("CheckoutStatus") or {}).get("LastModifiedTime") or order.get("CreatedTime")
    return OrderEvent(f"{order_id}:{kind.value}", kind, order_id, lines, _unix(changed))


def transaction_line(transaction: Mapping[str, Any], item_sku: str | None = None) -> OrderLine | None:
    """A purchase line: the variation's SKU for a multi-variation listing, else the item's."""
    sku = ((transaction.get("Variation") or {}).get("SKU") or (transaction.get("Item") or {}).get("SKU")
           or item_sku)
    quantity = int(transaction.get("QuantityPurchased") or 0)
    return OrderLine(str(sku), quantity) if sku and quantity > 0 else None


def _unix(value: Any) -> float | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, str) and value:
        try:
            return parse_time(value)
        except ValueError:
            return None  # a time we cannot read does not lose the order
    return None


def parse_time(text: str) -> float:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def ebay_time(at: float) -> datetime:
    """A time for zeep to write as xs:dateTime: eBay reads every time as GMT."""
    return datetime.fromtimestamp(at, UTC)


@dataclass(frozen=True, slots=True)
class OrderCursor:
    """Where polling stands: the ModTime window being read and its next page. A window is read page
    by page with its end fixed; the next window starts `overlap` seconds before this one's end."""

    mod_from: float
    mod_to: float | None = None
    page: int = 1

    def encode(self) -> str:
        return json.dumps({"from": self.mod_from, "to": self.mod_to, "page": self.page})

    @classmethod
    def decode(cls, text: str) -> OrderCursor:
        data = json.loads(text)
        return cls(float(data["from"]), None if data.get("to") is None else float(data["to"]),
                   int(data.get("page", 1)))

    def window(self, now: float) -> OrderCursor:
        return self if self.mod_to is not None else OrderCursor(self.mod_from, now, 1)

    def after(self, more: bool, overlap: float) -> OrderCursor:
        end = self.mod_to if self.mod_to is not None else self.mod_from
        if more:
            return OrderCursor(self.mod_from, end, self.page + 1)
        return OrderCursor(max(self.mod_from, end - overlap))


# --- Platform Notifications -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Notification:
    event_name: str
    timestamp: str
    signature: str
    delivery_id: str
    events: tuple[OrderEvent, ...]


def notification_signature(timestamp: str, dev_id: str, app_id: str, cert_id: str) -> str:
    """base64(MD5(Timestamp + DevID + AppID + CertID)), eBay's NotificationSignature."""
    digest = hashlib.md5((timestamp + dev_id + app_id + cert_id).encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def signature_ok(note: Notification | None, credentials: Mapping[str, str], now: float,
                 max_age: float = NOTIFICATION_MAX_AGE) -> bool:
    keys = [credentials.get(k, "") for k in ("dev_id", "app_id", "cert_id")]
    if note is None or not note.signature or not note.timestamp or not all(keys):
        return False
    try:
        age = abs(now - parse_time(note.timestamp))
    except ValueError:
        return False
    expected = notification_signature(note.timestamp, *keys)
    return age <= max_age and hmac.compare_digest(expected.encode(), note.signature.encode())


def read_notification(body: bytes) -> Notification | None:
    """The notification in a SOAP envelope; None when the body is not one."""
    try:
        root = etree.fromstring(body, _SAFE_XML)
    except etree.XMLSyntaxError:
        return None
    response = root.find(f"{{{SOAP_ENV}}}Body/*")
    ours = response is not None and str(response.tag).startswith(f"{{{NS}}}")
    if root.tag != f"{{{SOAP_ENV}}}Envelope" or response is None or not ours:
        return None
    creds = f"{{{SOAP_ENV}}}Header/{{{NS}}}RequesterCredentials"
    signature = root.findtext(f"{creds}/{{{NS}}}NotificationSignature")
    name = _text(response, "NotificationEventName")
    item_id, item_sku = _text(response, "Item/ItemID"), _text(response, "Item/SKU") or None
    transactions = response.findall(f"{{{NS}}}TransactionArray/{{{NS}}}Transaction")
    events = tuple(e for t in transactions if (e := _notified_event(t, item_id, item_sku)) is not None)
    first = transactions[0] if transactions else None
    stable = _text(first, "TransactionID") if first is not None else _text(response, "CorrelationID")
    return Notification(name, _text(response, "Timestamp"), (signature or "").strip(),
                        f"{name}:{item_id}:{stable}", events)


def _notified_event(transaction: Any, item_id: str, item_sku: str | None) -> OrderEvent | None:
    data = {"Variation": {"SKU": _text(transaction, "Variation/SKU") or None},
            "Item": {"SKU": _text(transaction, "Item/SKU") or None},
            "QuantityPurchased": _text(transaction, "QuantityPurchased") or 0}
    line = transaction_line(data, item_sku)
    # a purchase outside any order is named ItemID-TransactionID, eBay's older order id
    order_id = (_text(transaction, "ContainingOrder/OrderID")
                or f"{item_id}-{_text(transaction, 'TransactionID')}")
    kind = ORDER_KINDS.get(_text(transaction, "ContainingOrder/OrderStatus") or "Active")
    if line is None or kind is None:
        return None
    return OrderEvent(f"{order_id}:{kind.value}", kind, order_id, (line,),
                      _unix(_text(transaction, "CreatedDate")))


def _text(element: Any, path: str) -> str:
    found = element.findtext("/".join(f"{{{NS}}}{part}" for part in path.split("/")))
    return (found or "").strip()


def chunks(listings: Sequence[Listing], size: int = MAX_INVENTORY_STATUSES) -> Iterable[Sequence[Listing]]:
    return (listings[i:i + size] for i in range(0, len(listings), size))
