"""The eBay connector's formats without a network: per-item outcomes of ReviseInventoryStatus, orders
as events, the polling cursor, and Platform Notifications with their NotificationSignature."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import Listing, OrderEventKind, OrderLine
from connectors.ebay_format import (
    OrderCursor,
    chunks,
    configured_limit,
    order_event,
    push_results,
    read_notification,
    signature_ok,
)

KEYS = {"dev_id": "dev-1", "app_id": "Threadco-app-PRD", "cert_id": "PRD-cert", "auth_token": "t"}
BATCH = [Listing("SHEET-A", 3), Listing("SHEET-B", 0), Listing("SHEET-C", 7)]


def md5_b64(text: str) -> str:
    return base64.b64encode(hashlib.md5(text.encode()).digest()).decode()


def stamp(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def notification(at: float, signature: str | None = None, status: str = "Active",
                 variation: bool = False) -> bytes:
    timestamp = stamp(at)
    signature = signature if signature is not None else md5_b64(timestamp + "dev-1" + "Threadco-app-PRD" + "PRD-cert")
    sku = "<Variation><SKU>SHEET-B</SKU></Variation>" if variation else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
 <soapenv:Header>
  <ebl:RequesterCredentials soapenv:mustUnderstand="0" xmlns:ebl="urn:ebay:apis:eBLBaseComponents">
   <ebl:NotificationSignature>{signature}</ebl:NotificationSignature>
  </ebl:RequesterCredentials>
 </soapenv:Header>
 <soapenv:Body>
  <GetItemTransactionsResponse xmlns="urn:ebay:apis:eBLBaseComponents">
   <Timestamp>{timestamp}</Timestamp><Ack>Success</Ack><CorrelationID>4711</CorrelationID>
   <Version>1423</Version><Build>E1423</Build>
   <NotificationEventName>FixedPriceTransaction</NotificationEventName>
   <RecipientUserID>linens</RecipientUserID>
   <Item><ItemID>110012345678</ItemID><SKU>SHEET-A</SKU></Item>
   <TransactionArray><Transaction>
     <CreatedDate>{timestamp}</CreatedDate><QuantityPurchased>2</QuantityPurchased>
     <TransactionID>2800001</TransactionID>{sku}
     <ContainingOrder><OrderID>07-12345-67890</OrderID><OrderStatus>{status}</OrderStatus></ContainingOrder>
   </Transaction></TransactionArray>
  </GetItemTransactionsResponse>
 </soapenv:Body>
</soapenv:Envelope>""".encode()


# --- the NotificationSignature --------------------------------------------------------------------

def test_a_notification_signed_with_md5_of_timestamp_and_the_three_keys_is_accepted() -> None:
    assert signature_ok(read_notification(notification(time.time())), KEYS, time.time())


def test_a_tampered_signature_is_refused() -> None:
    tampered = md5_b64(stamp(time.time()) + "dev-1" + "Threadco-app-PRD" + "another-cert")
    assert not signature_ok(read_notification(notification(time.time(), tampered)), KEYS, time.time())


def test_a_notification_whose_timestamp_is_over_ten_minutes_off_is_refused_even_when_signed() -> None:
    old = time.time() - 601
    assert signature_ok(read_notification(notification(old)), KEYS, old + 599)
    assert not signature_ok(read_notification(notification(old)), KEYS, time.time())


def test_a_changed_body_timestamp_breaks_the_signature() -> None:
    at = time.time()
    body = notification(at).replace(stamp(at).encode(), stamp(at - 1).encode(), 1)
    assert not signature_ok(read_notification(body), KEYS, at)


@pytest.mark.parametrize("body", [b"", b"not xml", b"<a/>", notification(time.time(), signature="")],
                         ids=["empty", "not-xml", "other-xml", "unsigned-envelope"])
def test_a_body_that_is_no_signed_envelope_is_refused(body: bytes) -> None:
    assert not signature_ok(read_notification(body), KEYS, time.time())


def test_missing_application_keys_refuse_every_notification() -> None:
    assert not signature_ok(read_notification(notification(time.time())), {**KEYS, "cert_id": ""}, time.time())


def test_a_notification_names_a_stable_delivery_id_and_carries_its_purchase() -> None:
    first, again = read_notification(notification(time.time())), read_notification(notification(time.time() + 30))
    assert first is not None and again is not None
    assert first.delivery_id == again.delivery_id == "FixedPriceTransaction:110012345678:2800001"
    [event] = first.events
    assert (event.event_id, event.kind, event.order_id) == ("07-12345-67890:created", OrderEventKind.CREATED,
                                                            "07-12345-67890")
    assert event.lines == (OrderLine("SHEET-A", 2),)


def test_a_variation_purchase_takes_the_variations_sku() -> None:
    note = read_notification(notification(time.time(), variation=True))
    assert note is not None and note.events[0].lines == (OrderLine("SHEET-B", 2),)


# --- ReviseInventoryStatus outcomes ---------------------------------------------------------------

def test_success_and_warning_count_every_item_pushed() -> None:
    warning = {"Ack": "Warning", "Errors": [{"ErrorCode": "21916620", "SeverityCode": "Warning",
                                             "ErrorParameters": [{"Value": "SHEET-B"}]}]}
    for payload in ({"Ack": "Success"}, warning):
        assert [r.ok for r in push_results(BATCH, {}, payload)] == [True, True, True]


def test_a_partial_failure_fails_only_the_item_its_error_names() -> None:
    payload: dict[str, Any] = {
        "Ack": "PartialFailure",
        "Errors": [{"ErrorCode": "21916585", "SeverityCode": "Error", "LongMessage": "No listing",
                    "ErrorParameters": [{"Value": "SHEET-B"}]}],
        "InventoryStatus": [{"SKU": "SHEET-A", "ItemID": "1"}, {"SKU": "SHEET-C", "ItemID": "3"}]}
    results = push_results(BATCH, {}, payload)
    assert [(r.sku, r.ok) for r in results] == [("SHEET-A", True), ("SHEET-B", False), ("SHEET-C", True)]
    assert "21916585" in results[1].error


def test_an_error_naming_an_item_by_its_item_id_fails_that_item() -> None:
    payload = {"Ack": "PartialFailure", "InventoryStatus": [{"SKU": "SHEET-A"}, {"SKU": "SHEET-B"}],
               "Errors": [{"ErrorCode": "37", "SeverityCode": "Error", "ErrorParameters": [{"Value": "333"}]}]}
    assert [r.ok for r in push_results(BATCH, {"SHEET-C": "333"}, payload)] == [True, True, False]


def test_a_failure_naming_no_item_leaves_every_unconfirmed_item_pending() -> None:
    payload = {"Ack": "Failure", "Errors": [{"ErrorCode": "10007", "SeverityCode": "Error",
                                             "LongMessage": "Internal error"}]}
    assert [r.ok for r in push_results(BATCH, {}, payload)] == [False, False, False]


def test_a_push_goes_out_four_items_a_call() -> None:
    listings = [Listing(f"S{i}", i) for i in range(10)]
    assert [len(c) for c in chunks(listings)] == [4, 4, 2]


def test_the_published_limit_never_lets_more_than_6000_calls_into_any_15_seconds() -> None:
    spec = configured_limit({})
    assert spec.burst + spec.rate * 15 <= 6000
    small = configured_limit({"rate_limit": {"calls": 8, "window_s": 1}})
    assert small.burst + small.rate * 1 <= 8


# --- orders ---------------------------------------------------------------------------------------

def order(status: str, **transaction: Any) -> dict[str, Any]:
    line = transaction or {"Item": {"SKU": "SHEET-A"}, "QuantityPurchased": 2}
    return {"OrderID": "07-1-2", "OrderStatus": status, "CreatedTime": datetime(2026, 1, 2, tzinfo=UTC),
            "CheckoutStatus": {"LastModifiedTime": datetime(2026, 1, 3, tzinfo=UTC)},
            "TransactionArray": {"Transaction": [line]}}


@pytest.mark.parametrize(("status", "kind"), [("Active", OrderEventKind.CREATED),
                                              ("Completed", OrderEventKind.SHIPPED),
                                              ("Cancelled", OrderEventKind.CANCELLED)])
def test_an_orders_status_maps_to_its_event(status: str, kind: OrderEventKind) -> None:
    event = order_event(order(status))
    assert event is not None
    assert (event.event_id, event.kind, event.lines) == (f"07-1-2:{kind.value}", kind, (OrderLine("SHEET-A", 2),))
    assert event.occurred_at == datetime(2026, 1, 3, tzinfo=UTC).timestamp()


def test_a_pending_cancel_and_a_line_without_sku_make_no_event() -> None:
    assert order_event(order("CancelPending")) is None
    assert order_event(order("Active", Item={"ItemID": "1"}, QuantityPurchased=1)) is None


def test_a_variation_line_takes_the_variations_sku_over_the_items() -> None:
    event = order_event(order("Active", Item={"SKU": "PARENT"}, Variation={"SKU": "SHEET-B"}, QuantityPurchased=1))
    assert event is not None and event.lines == (OrderLine("SHEET-B", 1),)


def test_paging_keeps_the_window_and_the_next_window_overlaps_the_last() -> None:
    first = OrderCursor(1000.0).window(now=2000.0)
    assert (first.mod_from, first.mod_to, first.page) == (1000.0, 2000.0, 1)
    second = OrderCursor.decode(first.after(more=True, overlap=60).encode())
    assert (second.mod_from, second.mod_to, second.page) == (1000.0, 2000.0, 2)
    done = second.after(more=False, overlap=60)
    assert (done.mod_from, done.mod_to, done.page) == (1940.0, None, 1)


def test_a_notification_with_an_unreadable_time_is_refused_not_a_crash() -> None:
    at = time.time()
    body = notification(at).replace(stamp(at).encode(), b"2026-12-01T23:22:001782Z")
    assert not signature_ok(read_notification(body), KEYS, at)
