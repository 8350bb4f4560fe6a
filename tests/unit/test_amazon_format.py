"""Amazon SP-API formats without a network: patches, feeds and their reports, ORDER_CHANGE
notifications, searchOrders orders (Orders API v2026-01-01), the events they mean and the polling cursor."""

from __future__ import annotations

import json
from types import SimpleNamespace

from connectors import amazon_format as fmt
from connectors.base import Listing, OrderEvent, OrderEventKind, OrderLine
from simulators import amazon_wire

PURCHASED = fmt.parse_iso("2026-01-15T10:00:00Z")
CHANGED = fmt.parse_iso("2026-01-15T12:30:00Z")


def notification(status: str, notification_id: str = "n-1") -> bytes:
    """The ORDER_CHANGE notification Amazon sends for a two-sheet order (the simulator's writer)."""
    order = SimpleNamespace(order_id="113-1234567-7654321", sku="SHEET-Q-WHT", quantity=2, status=status,
                            created_at=PURCHASED, updated_at=CHANGED)
    return json.dumps(amazon_wire.order_change(order, "A1SELLER", amazon_wire.MARKETPLACE_US,
                                               notification_id)).encode()


def test_a_patch_merges_the_quantity_into_the_default_fulfillment_availability() -> None:
    body = fmt.patch_body("HOME_BED_AND_BATH", 7)

    assert body == {"productType": "HOME_BED_AND_BATH", "patches": [
        {"op": "merge", "path": "/attributes/fulfillment_availability",
         "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}]}]}
    assert amazon_wire.requested_quantity(body) == 7


def test_a_patch_that_sets_no_quantity_is_recognised() -> None:
    assert amazon_wire.requested_quantity({"productType": "X", "patches": [{
        "op": "replace", "path": "/attributes/item_name", "value": [{"value": "Sheet"}]}]}) is None
    assert amazon_wire.requested_quantity({"patches": "junk"}) is None
    assert amazon_wire.requested_quantity(None) is None


def test_an_accepted_submission_has_no_failure_and_an_invalid_one_gives_its_error_issues() -> None:
    assert fmt.patch_outcome({"sku": "A", "status": "ACCEPTED", "submissionId": "s", "issues": []}) == ""
    invalid = {"sku": "A", "status": "INVALID", "issues": [
        {"code": "4000001", "message": "SKU not found", "severity": "ERROR"},
        {"code": "18000", "message": "only a warning", "severity": "WARNING"}]}

    assert fmt.patch_outcome(invalid) == "4000001: SKU not found"


def test_a_feed_document_numbers_its_messages_in_the_listings_order() -> None:
    document = fmt.feed_document("A1SELLER", "HOME_BED_AND_BATH", [Listing("A", 1), Listing("B", 0)])

    assert document["header"] == {"sellerId": "A1SELLER", "version": "2.0", "issueLocale": "en_US"}
    assert [(m["messageId"], m["sku"], m["operationType"]) for m in document["messages"]] == [
        (1, "A", "PATCH"), (2, "B", "PATCH")]
    assert amazon_wire.requested_quantity(document["messages"][1]) == 0
    assert [m["patches"][0]["op"] for m in document["messages"]] == ["merge", "merge"]


def test_a_processing_report_fails_only_the_skus_whose_messages_had_errors() -> None:
    listings = [Listing("A", 1), Listing("B", 2), Listing("C", 3)]
    report = {"header": {"sellerId": "A1SELLER", "version": "2.0", "feedId": "5001"},
              "issues": [{"messageId": 2, "code": "4000001", "severity": "ERROR", "message": "SKU B not found"},
                         {"messageId": 3, "code": "99022", "severity": "WARNING", "message": "slow down"}],
              "summary": {"errors": 1, "warnings": 1, "messagesProcessed": 3, "messagesAccepted": 2,
                          "messagesInvalid": 1}}

    assert fmt.feed_outcomes(listings, report) == {"B": "4000001: SKU B not found"}


def test_errors_read_as_one_line_and_an_expired_token_is_recognised() -> None:
    expired = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.",
                           "details": "The access token you provided has expired."}]}
    throttled = {"errors": [{"code": "QuotaExceeded",
                             "message": "You exceeded your quota for the requested resource."}]}

    assert fmt.error_text(expired) == ("Unauthorized: Access to requested resource is denied. "
                                       "(The access token you provided has expired.)")
    assert fmt.is_unauthorized(expired)
    assert not fmt.is_unauthorized(throttled)
    assert fmt.error_text("<html>bad gateway</html>") == "<html>bad gateway</html>"


def test_the_listing_answer_gives_the_default_channel_quantity() -> None:
    item = {"sku": "A", "fulfillmentAvailability": [{"fulfillmentChannelCode": "AMAZON_NA", "quantity": 40},
                                                    {"fulfillmentChannelCode": "DEFAULT", "quantity": 12}]}

    assert fmt.fulfillment_quantity(item) == 12
    assert fmt.fulfillment_quantity({"sku": "A"}) is None


def test_an_order_change_notification_reads_back_as_the_fact_it_was_made_from() -> None:
    notification_id, fact = fmt.notification_fact(notification("Unshipped"))

    assert notification_id == "n-1"
    assert fact == fmt.OrderFact("113-1234567-7654321", "Unshipped", PURCHASED, CHANGED,
                                 (OrderLine("SHEET-Q-WHT", 2),))


def test_a_notification_of_another_type_or_shape_is_refused() -> None:
    other = json.loads(notification("Unshipped"))
    other["NotificationType"] = "ANY_OFFER_CHANGED"

    for body in (json.dumps(other).encode(), b'{"Payload": {}}', b"[]"):
        try:
            fmt.notification_fact(body)
        except ValueError:
            continue
        raise AssertionError(f"accepted {body!r}")


def test_an_unshipped_order_is_created_with_the_purchase_time() -> None:
    _, fact = fmt.notification_fact(notification("Unshipped"))

    [event] = fmt.fact_events(fact, {})

    assert (event.event_id, event.kind, event.occurred_at) == (
        "113-1234567-7654321:Unshipped", OrderEventKind.CREATED, PURCHASED)
    assert event.lines == (OrderLine("SHEET-Q-WHT", 2),)


def test_a_shipped_or_cancelled_order_also_implies_its_creation_so_out_of_order_arrivals_dedupe() -> None:
    shipped = fmt.fact_events(fmt.notification_fact(notification("Shipped"))[1], {})
    cancelled = fmt.fact_events(fmt.notification_fact(notification("Canceled"))[1], {})

    assert [(e.event_id, e.kind) for e in shipped] == [
        ("113-1234567-7654321:Unshipped", OrderEventKind.CREATED),
        ("113-1234567-7654321:Shipped", OrderEventKind.SHIPPED)]
    assert [e.kind for e in cancelled] == [OrderEventKind.CREATED, OrderEventKind.CANCELLED]
    assert cancelled[1].occurred_at == CHANGED


def test_a_pending_order_is_not_yet_reservable() -> None:
    _, fact = fmt.notification_fact(notification("Pending"))

    assert fmt.fact_events(fact, {}) == []
    assert not fmt.actionable("Pending")


def test_a_searched_order_gets_the_same_event_ids_as_its_notification() -> None:
    order = {"orderId": "113-1234567-7654321", "createdTime": "2026-01-15T10:00:00Z",
             "lastUpdatedTime": "2026-01-15T12:30:00Z", "salesChannel": {"channelName": "AMAZON"},
             "fulfillment": {"fulfillmentStatus": "SHIPPED"},
             "orderItems": [{"orderItemId": "1", "quantityOrdered": 2, "product": {"sellerSku": "SHEET-Q-WHT"}}]}

    searched = fmt.fact_events(fmt.searched_fact(order), {})
    notified = fmt.fact_events(fmt.notification_fact(notification("Shipped"))[1], {})

    assert searched == notified


def test_an_order_without_its_fulfillment_status_is_malformed() -> None:
    order = {"orderId": "1", "createdTime": "2026-01-15T10:00:00Z", "orderItems": []}

    try:
        fmt.searched_fact(order)
    except ValueError:
        return
    raise AssertionError("accepted an order without fulfillment")


def test_order_lines_skip_rows_without_a_sku_or_a_quantity() -> None:
    rows = [{"SellerSKU": "A", "Quantity": 1}, {"SellerSKU": "B", "Quantity": 3},
            {"Quantity": 4}, {"SellerSKU": "C", "Quantity": 0}]

    assert fmt.order_lines(rows) == (OrderLine("A", 1), OrderLine("B", 3))


def test_duplicate_facts_merge_into_one_event_carrying_every_receipt_handle_and_notification_id() -> None:
    first = OrderEvent("o:Unshipped", OrderEventKind.CREATED, "o", (OrderLine("A", 1),), 1.0,
                       {"receipt_handles": ("h1",), "notification_ids": ("n-1",)})
    again = OrderEvent("o:Unshipped", OrderEventKind.CREATED, "o", (OrderLine("A", 1),), 1.0,
                       {"receipt_handles": ("h2", "h1"), "notification_ids": ("n-1",)})
    polled = OrderEvent("o:Unshipped", OrderEventKind.CREATED, "o", (OrderLine("A", 1),), 1.0,
                        {"receipt_handles": ()})
    other = OrderEvent("p:Unshipped", OrderEventKind.CREATED, "p", (), 2.0, {})

    merged = fmt.merge_events([first, again, other, polled])

    assert [e.event_id for e in merged] == ["o:Unshipped", "p:Unshipped"]
    assert merged[0].raw["receipt_handles"] == ("h1", "h2")
    assert merged[0].raw["notification_ids"] == ("n-1",)


def test_the_cursor_round_trips_and_a_garbled_one_starts_from_the_look_back() -> None:
    cursor = fmt.OrdersCursor(PURCHASED, "token-2", CHANGED)

    assert fmt.OrdersCursor.decode(cursor.encode(), 0.0) == cursor
    assert fmt.OrdersCursor.decode("not json", 123.0) == fmt.OrdersCursor(123.0, None, 123.0)
    assert fmt.OrdersCursor.decode(None, 123.0).after == 123.0


def test_the_watermark_moves_only_when_the_paging_is_done() -> None:
    start = fmt.OrdersCursor(PURCHASED, None, PURCHASED)

    paging = start.after_page("token-2", CHANGED)
    done = paging.after_page(None, PURCHASED + 60)

    assert (paging.after, paging.next_token, paging.seen) == (PURCHASED, "token-2", CHANGED)
    assert (done.after, done.next_token) == (CHANGED, None)


def test_timestamps_are_written_to_the_second_in_utc() -> None:
    assert fmt.iso(fmt.parse_iso("2026-01-15T10:00:00.250Z")) == "2026-01-15T10:00:00Z"
    assert fmt.parse_iso("2026-01-15T10:00:00+00:00") == PURCHASED


# Amazon's published ORDER_CHANGE example (schemas/notifications/OrderChangeNotification.json in
# amzn/selling-partner-api-models), with the fields we do not read left out.
PUBLISHED_ORDER_CHANGE = {
    "NotificationVersion": "1.0", "NotificationType": "ORDER_CHANGE", "PayloadVersion": "1.0",
    "EventTime": "2020-01-11T00:09:53.109Z",
    "Payload": {"OrderChangeNotification": {
        "NotificationLevel": "OrderLevel", "SellerId": "A3TH9S8BH6GOGM", "AmazonOrderId": "903-8868176-2219830",
        "OrderChangeType": "BuyerRequestedChange",
        "OrderChangeTrigger": {"TimeOfOrderChange": "2022-11-29T19:42:04.284Z",
                               "ChangeReason": "Buyer Requested Cancel"},
        "Summary": {"MarketplaceId": "ATVPDKIKX0DER", "OrderStatus": "Unshipped",
                    "PurchaseDate": "2022-07-13T19:42:04.284Z", "DestinationPostalCode": "48110",
                    "FulfillmentType": "MFN", "OrderType": "StandardOrder", "NumberOfItemsShipped": 0,
                    "NumberOfItemsUnshipped": 10,
                    "OrderItems": [{"OrderItemId": "OIID34853450", "SellerSKU": "SellerSKUID1",
                                    "SupplySourceId": "d7679e14-031b-4ab3-a81b-ec4fc7a460b3",
                                    "OrderItemStatus": "Unshipped", "Quantity": 10, "QuantityShipped": 0,
                                    "IsBuyerRequestedCancel": True}]}}},
    "NotificationMetadata": {"ApplicationId": "app-id-d0e9e693-c3ad-4373-979f-ed4ec98dd746",
                             "SubscriptionId": "subscription-id-d0e9e693-c3ad-4373-979f-ed4ec98dd746",
                             "PublishTime": "2020-07-13T19:42:04.284Z",
                             "NotificationId": "d0e9e693-c3ad-4373-979f-ed4ec98dd746"}}


def test_the_published_order_change_notification_reads_as_an_unshipped_order_of_ten() -> None:
    notification_id, fact = fmt.notification_fact(json.dumps(PUBLISHED_ORDER_CHANGE))

    assert notification_id == "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
    assert (fact.order_id, fact.status, fact.lines) == (
        "903-8868176-2219830", "Unshipped", (OrderLine("SellerSKUID1", 10),))
    assert fact.purchased_at == fmt.parse_iso("2022-07-13T19:42:04.284Z")
    assert [e.event_id for e in fmt.fact_events(fact, {})] == ["903-8868176-2219830:Unshipped"]


# Amazon's published searchOrders example (orders_2026-01-01.json, the 200 answer), trimmed to the
# fields the model requires and those we read.
PUBLISHED_SEARCH_ORDERS = {
    "orders": [{
        "orderId": "123-4567890-1234567",
        "orderAliases": [{"aliasId": "SELLER-ORDER-2024-001", "aliasType": "SELLER_ORDER_ID"}],
        "createdTime": "2024-12-25T10:30:00Z", "lastUpdatedTime": "2024-12-25T14:45:00Z",
        "programs": ["PRIME", "AMAZON_BUSINESS"],
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": "ATVPDKIKX0DER", "marketplaceName": "Amazon.com"},
        "fulfillment": {"fulfillmentStatus": "SHIPPED", "fulfilledBy": "MERCHANT",
                        "fulfillmentServiceLevel": "STANDARD",
                        "shipByWindow": {"earliestDateTime": "2024-12-26T00:00:00Z",
                                         "latestDateTime": "2024-12-27T23:59:59Z"}},
        "orderItems": [{"orderItemId": "12345678901234", "quantityOrdered": 2,
                        "product": {"asin": "B08N5WRWNW", "title": "Echo Dot (4th Gen) | Smart speaker with Alexa | Charcoal",
                                    "sellerSku": "ECHO-DOT-4-CHARCOAL",
                                    "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
                                    "price": {"unitPrice": {"amount": "49.99", "currencyCode": "USD"}}},
                        "fulfillment": {"quantityFulfilled": 2, "quantityUnfulfilled": 0}}]}],
    "pagination": {"nextToken": "2YgYW55IGNhcm5hbCBwbGVhc3VyZS4"},
    "lastUpdatedBefore": "2024-12-25T15:00:00Z"}


def test_the_published_search_orders_answer_reads_as_a_shipped_order_of_two() -> None:
    [order] = PUBLISHED_SEARCH_ORDERS["orders"]

    fact = fmt.searched_fact(order)

    assert (fact.order_id, fact.status, fact.lines) == (
        "123-4567890-1234567", "Shipped", (OrderLine("ECHO-DOT-4-CHARCOAL", 2),))
    assert (fact.purchased_at, fact.changed_at) == (fmt.parse_iso("2024-12-25T10:30:00Z"),
                                                    fmt.parse_iso("2024-12-25T14:45:00Z"))
    assert [e.kind for e in fmt.fact_events(fact, {})] == [OrderEventKind.CREATED, OrderEventKind.SHIPPED]
