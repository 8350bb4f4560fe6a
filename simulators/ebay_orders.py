"""The eBay simulator's orders: GetOrders read by modification time (`ModTimeFrom`/`ModTimeTo`,
`OrderRole`, `Pagination` with `HasMoreOrders`), orders written in eBay's OrderType shape, and the
FixedPriceTransaction Platform Notification (a GetItemTransactionsResponse in a SOAP envelope whose
header carries the NotificationSignature), as eBay's notification guide describes them.

eBay's rules kept here: EntriesPerPage 1 to 100 (default 25); CreateTime and ModTime filters are not
mixed; a ModTimeFrom further back than 30 days is refused; orders come sorted by modification time;
an OrderIDArray (up to 100 ids) names the orders and the time filters are then not needed.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulators.ebay_wire import (
    BUILD,
    EbayError,
    RequestRefused,
    SoapRequest,
    ebay_time,
    envelope,
    invalid_input,
    notification_signature,
    q,
    read_time,
    sub,
)

if TYPE_CHECKING:
    from simulators.base import SimOrder

MOST_PER_PAGE = 100
DEFAULT_PER_PAGE = 25
LONGEST_LOOK_BACK = 30 * 86400.0


@dataclass(frozen=True, slots=True)
class OrderQuery:
    mod_from: float
    mod_to: float
    seller: bool
    per_page: int
    page: int
    order_ids: frozenset[str] | None = None


def order_query(request: SoapRequest, now: float) -> OrderQuery:
    """The GetOrders filters, refused the way eBay refuses them (error 37 naming the field)."""
    named = request.fields.get("OrderIDArray")
    if named:
        ids = frozenset((child.text or "").strip() for child in named[0])
        if not 1 <= len(ids) <= MOST_PER_PAGE:
            raise RequestRefused(invalid_input("OrderIDArray"))
        per_page, page = _pagination(request)
        return OrderQuery(-math.inf, math.inf, _seller(request), per_page, page, ids)
    if request.fields.get("CreateTimeFrom") and request.fields.get("ModTimeFrom"):
        raise RequestRefused(EbayError("37", "Input data is invalid.",
                                       "CreateTimeFrom and ModTimeFrom cannot be used together.",
                                       params=("ModTimeFrom",)))
    mod_from, mod_to = read_time(request.text("ModTimeFrom")), read_time(request.text("ModTimeTo"))
    for name, value in (("ModTimeFrom", mod_from), ("ModTimeTo", mod_to)):
        if request.fields.get(name) and value is None:
            raise RequestRefused(invalid_input(name))
    if mod_from is None or mod_to is None or mod_to < mod_from:
        raise RequestRefused(invalid_input("ModTimeTo" if mod_from is not None else "ModTimeFrom"))
    if mod_from < now - LONGEST_LOOK_BACK:
        raise RequestRefused(invalid_input("ModTimeFrom"))
    per_page, page = _pagination(request)
    return OrderQuery(mod_from, mod_to, _seller(request), per_page, page)


def _seller(request: SoapRequest) -> bool:
    role = request.text("OrderRole") or "Seller"
    if role not in ("Seller", "Buyer"):
        raise RequestRefused(invalid_input("OrderRole"))
    return role == "Seller"


def _pagination(request: SoapRequest) -> tuple[int, int]:
    found = request.fields.get("Pagination")
    if not found:
        return DEFAULT_PER_PAGE, 1
    values: dict[str, int] = {}
    for child in found[0]:
        name = child.tag.rsplit("}", 1)[-1]
        try:
            values[name] = int((child.text or "").strip())
        except ValueError:
            raise RequestRefused(invalid_input(f"Pagination.{name}")) from None
    per_page, page = values.get("EntriesPerPage", DEFAULT_PER_PAGE), values.get("PageNumber", 1)
    if not 1 <= per_page <= MOST_PER_PAGE:
        raise RequestRefused(invalid_input("Pagination.EntriesPerPage"))
    if page < 1:
        raise RequestRefused(invalid_input("Pagination.PageNumber"))
    return per_page, page


def orders_page(orders: list[SimOrder], query: OrderQuery, item_ids: dict[str, str]) -> list[ET.Element]:
    """The GetOrders answer after Version/Build: PaginationResult, HasMoreOrders, OrderArray, ..."""
    found = sorted((o for o in orders if query.mod_from <= o.updated_at <= query.mod_to
                    and (query.order_ids is None or o.order_id in query.order_ids)),
                   key=lambda o: (o.updated_at, o.order_id)) if query.seller else []
    pages = max(1, -(-len(found) // query.per_page))
    shown = found[(query.page - 1) * query.per_page:query.page * query.per_page]
    result = ET.Element(q("PaginationResult"))
    sub(result, "TotalNumberOfPages", pages)
    sub(result, "TotalNumberOfEntries", len(found))
    array = ET.Element(q("OrderArray"))
    array.extend(order_element(order, item_ids[order.sku]) for order in shown)
    parts = [result, _leaf("HasMoreOrders", "true" if query.page < pages else "false"), array,
             _leaf("OrdersPerPage", query.per_page), _leaf("PageNumber", query.page),
             _leaf("ReturnedOrderCountActual", len(shown))]
    return parts


def _leaf(name: str, text: object) -> ET.Element:
    element = ET.Element(q(name))
    element.text = str(text)
    return element


def order_element(order: SimOrder, item_id: str) -> ET.Element:
    element = ET.Element(q("Order"))
    sub(element, "OrderID", order.order_id)
    sub(element, "OrderStatus", order.status)
    checkout = sub(element, "CheckoutStatus", None)
    sub(checkout, "eBayPaymentStatus", "NoPaymentFailure")
    sub(checkout, "LastModifiedTime", ebay_time(order.updated_at))
    sub(checkout, "Status", "Complete" if order.status == "Completed" else "Incomplete")
    sub(element, "CreatedTime", ebay_time(order.created_at))
    array = sub(element, "TransactionArray", None)
    array.append(transaction_element(order, item_id, with_item=True))
    sub(element, "BuyerUserID", order.extra["buyer"])
    if order.extra.get("shipped_at") is not None:
        sub(element, "ShippedTime", ebay_time(order.extra["shipped_at"]))
    return element


def transaction_element(order: SimOrder, item_id: str, with_item: bool) -> ET.Element:
    """One line. A listing with variations names the bought one's SKU under Variation; a plain
    listing's SKU is on the Item."""
    element = ET.Element(q("Transaction"))
    sub(element, "CreatedDate", ebay_time(order.created_at))
    variation = order.extra.get("variation", False)
    if with_item:
        item = sub(element, "Item", None)
        sub(item, "ItemID", item_id)
        if not variation:
            sub(item, "SKU", order.sku)
    sub(element, "QuantityPurchased", order.quantity)
    sub(element, "TransactionID", order.extra["transaction_id"])
    if variation:
        sub(sub(element, "Variation", None), "SKU", order.sku)
    sub(element, "OrderLineItemID", f"{item_id}-{order.extra['transaction_id']}")
    return element


def fixed_price_transaction(order: SimOrder, item_id: str, seller: str, at: float,
                            keys: tuple[str, str, str]) -> bytes:
    """The FixedPriceTransaction notification: signed over its own Timestamp with (DevID, AppID,
    CertID), as eBay signs every Platform Notification."""
    stamp = ebay_time(at)
    response = ET.Element(q("GetItemTransactionsResponse"))
    for name, text in (("Timestamp", stamp), ("Ack", "Success"),
                       ("CorrelationID", order.extra["transaction_id"]), ("Version", "1423"),
                       ("Build", BUILD), ("NotificationEventName", "FixedPriceTransaction"),
                       ("RecipientUserID", seller)):
        sub(response, name, text)
    paging = sub(response, "PaginationResult", None)
    sub(paging, "TotalNumberOfPages", 1)
    sub(paging, "TotalNumberOfEntries", 1)
    sub(response, "HasMoreTransactions", "false")
    item = sub(response, "Item", None)
    sub(item, "ItemID", item_id)
    if not order.extra.get("variation", False):
        sub(item, "SKU", order.sku)
    transaction = transaction_element(order, item_id, with_item=False)
    containing = sub(transaction, "ContainingOrder", None)
    sub(containing, "OrderID", order.order_id)
    sub(containing, "OrderStatus", order.status)
    sub(sub(response, "TransactionArray", None), "Transaction", None).extend(list(transaction))
    creds = ET.Element(q("RequesterCredentials"))
    creds.set("{http://schemas.xmlsoap.org/soap/envelope/}mustUnderstand", "0")
    sub(creds, "NotificationSignature", notification_signature(stamp, *keys))
    return envelope(response, creds)
