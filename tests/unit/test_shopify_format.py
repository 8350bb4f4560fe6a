"""Shopify's formats without a network: signatures, paging, the mutation, user errors, orders."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.base import OrderEventKind, OrderLine, header
from connectors.shopify_cursor import OrdersCursor, later
from connectors.shopify_format import (
    format_time,
    gid,
    next_page_info,
    order_events,
    rest_error_text,
    set_cost,
    set_quantities_request,
    sign,
    split_user_errors,
    throttled_wait,
    webhook_authentic,
    webhook_events,
)
from simulators import shopify_wire

BODY = b'{"id":1}'
SIGNED = {"X-Shopify-Hmac-Sha256": "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY=",
          "X-Shopify-Shop-Domain": "linens.myshopify.com"}


def order(**changes: Any) -> dict[str, Any]:
    base = {"id": 450789469, "name": "#1001", "created_at": "2026-01-15T10:00:00-05:00",
            "updated_at": "2026-01-15T10:00:00-05:00", "cancelled_at": None, "fulfillment_status": None,
            "line_items": [{"id": 1, "sku": "SHEET-Q-WHT", "quantity": 2, "variant_id": 7},
                           {"id": 2, "sku": None, "quantity": 1, "variant_id": None}]}
    return {**base, **changes}


# --- webhooks ------------------------------------------------------------------------------------


def test_the_webhook_signature_is_base64_hmac_sha256_of_the_raw_body_keyed_by_the_app_secret():
    assert sign("hush", BODY) == SIGNED["X-Shopify-Hmac-Sha256"]
    assert webhook_authentic("hush", "linens.myshopify.com", SIGNED, BODY)


def test_a_changed_body_or_another_secret_is_refused():
    assert not webhook_authentic("hush", "linens.myshopify.com", SIGNED, b'{"id":2}')
    assert not webhook_authentic("other", "linens.myshopify.com", SIGNED, BODY)
    assert not webhook_authentic("hush", "linens.myshopify.com", SIGNED, BODY + b" ")


def test_a_delivery_naming_another_shop_is_refused_even_when_signed():
    other = {**SIGNED, "X-Shopify-Shop-Domain": "someone-else.myshopify.com"}
    assert not webhook_authentic("hush", "linens.myshopify.com", other, BODY)


def test_a_delivery_without_a_signature_or_without_our_secret_is_refused():
    assert not webhook_authentic("hush", "linens.myshopify.com", {"X-Shopify-Shop-Domain": "x"}, BODY)
    assert not webhook_authentic("", "linens.myshopify.com", SIGNED, BODY)


def test_headers_are_found_whatever_their_case():
    lowered = {name.lower(): value for name, value in SIGNED.items()}
    assert header(lowered, "X-Shopify-Hmac-Sha256") == SIGNED["X-Shopify-Hmac-Sha256"]
    assert webhook_authentic("hush", "LINENS.myshopify.com", lowered, BODY)
    assert header(lowered, "X-Shopify-Topic") is None


def test_a_webhook_topic_names_the_one_fact_it_reports():
    shipped = order(fulfillment_status="fulfilled", updated_at="2026-01-16T09:00:00-05:00")
    [event] = webhook_events("orders/fulfilled", shipped)
    assert (event.kind, event.event_id, event.order_id) == (OrderEventKind.SHIPPED, "450789469:shipped", "450789469")
    [event] = webhook_events("orders/create", shipped)
    assert event.event_id == "450789469:created"


def test_an_unknown_topic_reads_every_fact_the_order_shows():
    events = webhook_events("orders/updated", order(cancelled_at="2026-01-15T11:00:00-05:00"))
    assert [e.kind for e in events] == [OrderEventKind.CREATED, OrderEventKind.CANCELLED]


# --- orders --------------------------------------------------------------------------------------


def test_a_new_order_is_one_created_event_with_the_lines_that_carry_a_sku():
    [event] = order_events(order())
    assert event.kind is OrderEventKind.CREATED
    assert event.event_id == "450789469:created"
    assert event.lines == (OrderLine("SHEET-Q-WHT", 2),)
    assert event.occurred_at == 1768489200.0   # 15:00 UTC


def test_a_fulfilled_or_cancelled_order_also_reports_that_with_its_own_time():
    done = order(fulfillment_status="fulfilled", updated_at="2026-01-16T10:00:00-05:00")
    assert [e.event_id for e in order_events(done)] == ["450789469:created", "450789469:shipped"]
    assert order_events(done)[1].occurred_at == 1768489200.0 + 86400
    gone = order(cancelled_at="2026-01-15T10:30:00-05:00", updated_at="2026-01-15T10:31:00-05:00")
    assert order_events(gone)[1].kind is OrderEventKind.CANCELLED
    assert order_events(gone)[1].occurred_at == 1768489200.0 + 1800


def test_a_partial_fulfilment_is_not_shipped():
    assert [e.kind for e in order_events(order(fulfillment_status="partial"))] == [OrderEventKind.CREATED]


def test_the_orders_cursor_round_trips_and_a_foreign_one_reads_as_none():
    cursor = OrdersCursor("2026-01-15T10:00:00-05:00", "abc", "2026-01-15T11:00:00-05:00")
    assert OrdersCursor.decode(cursor.encode()) == cursor
    assert OrdersCursor.decode("not json") is None
    assert OrdersCursor.decode(None) is None
    assert OrdersCursor.decode('{"page_info": "x"}') is None


def test_while_paging_the_cursor_keeps_its_filter_and_after_the_last_page_moves_on_to_the_latest_update():
    start = OrdersCursor("2026-01-15T10:00:00-05:00")
    first = start.after_page([order(updated_at="2026-01-15T12:00:00-05:00"),
                              order(updated_at="2026-01-15T11:00:00-05:00")], "next-page")
    assert first == OrdersCursor(start.since, "next-page", "2026-01-15T12:00:00-05:00")
    last = first.after_page([order(updated_at="2026-01-15T11:30:00-05:00")], None)
    assert last == OrdersCursor("2026-01-15T12:00:00-05:00")
    assert last.after_page([], None) == last


def test_later_compares_times_across_time_zones_and_keeps_the_partners_spelling():
    assert later("2026-01-15T10:00:00-05:00", "2026-01-15T14:00:00+00:00") == "2026-01-15T10:00:00-05:00"
    assert later("2026-01-15T10:00:00-05:00", "2026-01-15T16:00:00+00:00") == "2026-01-15T16:00:00+00:00"
    assert later(None, "garbage") is None


def test_shopify_times_are_whole_seconds_in_the_shops_zone():
    assert format_time(1768489200.7, -300) == "2026-01-15T10:00:00-05:00"
    assert format_time(1768489200.0) == "2026-01-15T15:00:00+00:00"


# --- paging --------------------------------------------------------------------------------------


def test_the_next_page_is_found_among_previous_and_next_links_even_with_commas_in_fields():
    link = ('<https://linens.myshopify.com/admin/api/2025-10/products.json?limit=250&fields=id,variants'
            '&page_info=cHJldg>; rel="previous", <https://linens.myshopify.com/admin/api/2025-10/products.json'
            '?limit=250&page_info=bmV4dA&fields=id,variants>; rel="next"')
    assert next_page_info(link) == "bmV4dA"


def test_no_next_link_means_the_last_page():
    assert next_page_info(None) is None
    assert next_page_info('<https://x.myshopify.com/a.json?page_info=cHJldg>; rel="previous"') is None


# --- the mutation --------------------------------------------------------------------------------


def test_the_request_sets_available_by_global_ids_with_no_compare_quantity():
    body = set_quantities_request([(11, 5), (12, 0)], 99, "key-1")
    assert "inventorySetQuantities(input: $input) @idempotent(key: $key)" in body["query"]
    variables = body["variables"]
    assert variables["key"] == "key-1"
    assert variables["input"]["name"] == "available" and variables["input"]["reason"] == "correction"
    assert variables["input"]["quantities"][0] == {
        "inventoryItemId": "gid://shopify/InventoryItem/11", "locationId": "gid://shopify/Location/99",
        "quantity": 5, "changeFromQuantity": None}


def test_the_cost_is_ten_points_and_one_per_quantity():
    assert (set_cost(1), set_cost(250)) == (11, 260)


def test_user_errors_split_into_per_quantity_and_whole_call_messages():
    indexed, general = split_user_errors([
        {"field": ["input", "quantities", "3", "quantity"], "message": "The quantity can't be negative.",
         "code": "INVALID_QUANTITY_NEGATIVE"},
        {"field": ["input", "reason"], "message": "The specified reason is invalid.", "code": "INVALID_REASON"},
        {"field": None, "message": "Try again.", "code": None},
    ])
    assert indexed == {3: "INVALID_QUANTITY_NEGATIVE: The quantity can't be negative."}
    assert general == ["INVALID_REASON: The specified reason is invalid.", "ERROR: Try again."]


def test_a_throttled_answer_says_how_long_until_the_cost_is_restored():
    answer = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
              "extensions": {"cost": {"requestedQueryCost": 260, "actualQueryCost": None, "throttleStatus": {
                  "maximumAvailable": 2000, "currentlyAvailable": 60, "restoreRate": 100}}}}
    assert throttled_wait(answer) == pytest.approx(2.0)
    assert throttled_wait({"data": {}, "extensions": answer["extensions"]}) is None
    assert throttled_wait({"errors": [{"message": "Field 'x' doesn't exist"}]}) is None


def test_rest_errors_read_in_every_shape_shopify_uses():
    assert rest_error_text({"errors": "[API] Invalid API key"}) == "[API] Invalid API key"
    assert rest_error_text({"errors": {"reason": ["is not included in the list"]}}) == \
        "reason: is not included in the list"
    assert rest_error_text({"error": "Not Found"}) == "Not Found"
    assert rest_error_text("<html>bad gateway</html>") == "<html>bad gateway</html>"


def quantity(item: int, value: Any, location: int = 1, change_from: int | None = None) -> dict[str, Any]:
    return {"inventoryItemId": gid("InventoryItem", item), "locationId": gid("Location", location),
            "quantity": value, "changeFromQuantity": change_from}


def checked(quantities: list[dict[str, Any]], **changes: Any) -> tuple[list[Any], list[str | None]]:
    """Shopify's checks on an inventorySetQuantities input (the simulator's shopify_wire)."""
    data = {"name": "available", "reason": "correction", "quantities": quantities, **changes}
    shop = shopify_wire.SetQuantities({10: "A", 11: "B"}, {1}, lambda item, location: 4).check(data)
    return shop.changes, [e["code"] for e in shop.errors]


def test_a_valid_input_becomes_its_changes():
    assert checked([quantity(10, 5), quantity(11, 0, change_from=4)]) == ([(10, 1, 5), (11, 1, 0)], [])


@pytest.mark.parametrize(("bad", "code"), [
    (quantity(12, 5), "INVALID_INVENTORY_ITEM"),
    (quantity(10, 5, location=2), "INVALID_LOCATION"),
    (quantity(10, -1), "INVALID_QUANTITY_NEGATIVE"),
    (quantity(10, 1_000_000_001), "INVALID_QUANTITY_TOO_HIGH"),
    (quantity(10, 5, change_from=3), "CHANGE_FROM_QUANTITY_STALE"),
    (quantity(11, 5), "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"),
])
def test_a_bad_quantity_is_refused_with_shopifys_code(bad, code):
    found, codes = checked([quantity(11, 1), bad])
    assert codes == [code]
    assert found == [(11, 1, 1)]   # the caller applies nothing when there are errors


def test_a_wrong_name_or_reason_refuses_the_whole_call():
    assert checked([quantity(10, 1)], name="incoming", reason="whim")[1] == ["INVALID_NAME", "INVALID_REASON"]
