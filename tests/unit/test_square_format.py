"""Square's formats without a network: signatures, count batches, order events, the poll cursor."""

from __future__ import annotations

from connectors.base import Listing, OrderEventKind, OrderLine, PushResult, header
from connectors.limits import RateSpec
from connectors.square_cursor import PollCursor
from connectors.square_format import (
    ASSUMED_LIMIT,
    configured_limit,
    errors_text,
    iso,
    order_event,
    parse_iso,
    physical_counts,
    push_results,
    search_body,
    shown_quantities,
    signature,
    signature_ok,
    webhook_order,
)
from simulators import square_wire

URL = "https://example.com/webhooks/square"
BODY = b'{"event_id":"e-1"}'
SKU_OF = {"VAR-A": "SHEET-A", "VAR-B": "SHEET-B"}
HOUR = 3600.0


def an_order(state: str = "COMPLETED", **extra: object) -> dict[str, object]:
    return {"id": "ORD1", "location_id": "L1", "state": state, "version": 2,
            "created_at": "2026-08-19T10:00:00.000Z", "updated_at": "2026-08-19T10:05:00.000Z",
            "closed_at": "2026-08-19T10:01:00.000Z",
            "line_items": [{"uid": "u1", "catalog_object_id": "VAR-A", "quantity": "2"},
                           {"uid": "u2", "catalog_object_id": "VAR-A", "quantity": "1.0"},
                           {"uid": "u3", "catalog_object_id": "COFFEE", "quantity": "1"},
                           {"uid": "u4", "name": "Custom amount", "quantity": "1"}], **extra}


def test_the_signature_is_base64_hmac_sha256_over_the_notification_url_and_the_body() -> None:
    # computed with: printf '%s' URL+BODY | openssl dgst -sha256 -hmac sig-key-123 -binary | base64
    assert signature("sig-key-123", URL, BODY) == "sixLDYqQLNpbwxas8lLhWbHLWhvtrIG4ZfZypJHmaRM="


def test_a_good_signature_is_accepted() -> None:
    assert signature_ok("sig-key-123", URL, BODY, signature("sig-key-123", URL, BODY))


def test_a_tampered_body_another_url_or_another_key_is_refused() -> None:
    good = signature("sig-key-123", URL, BODY)
    assert not signature_ok("sig-key-123", URL, BODY + b" ", good)
    assert not signature_ok("sig-key-123", URL + "/other", BODY, good)
    assert not signature_ok("other-key", URL, BODY, good)
    assert not signature_ok("sig-key-123", URL, BODY, None)
    assert not signature_ok("", URL, BODY, signature("", URL, BODY))


def test_headers_are_found_whatever_their_case() -> None:
    assert header({"X-Square-HmacSha256-Signature": "s"}, "x-square-hmacsha256-signature") == "s"
    assert header({}, "x-square-hmacsha256-signature") is None


def test_times_are_rfc_3339_in_utc_with_milliseconds() -> None:
    assert iso(0.25) == "1970-01-01T00:00:00.250Z"
    assert parse_iso("2026-08-19T10:00:00.500Z") == parse_iso("2026-08-19T12:00:00.5+02:00")
    assert abs(parse_iso(iso(1_780_000_000.123)) - 1_780_000_000.123) < 0.001


def test_counts_carry_quantities_as_strings_and_skip_skus_without_a_variation() -> None:
    changes = physical_counts([Listing("SHEET-A", 53), Listing("SHEET-X", 1), Listing("SHEET-B", -2)],
                              {"SHEET-A": "VAR-A", "SHEET-B": "VAR-B"}, "L1", 0.0)
    assert changes == [
        {"type": "PHYSICAL_COUNT", "physical_count": {"catalog_object_id": "VAR-A", "state": "IN_STOCK",
                                                      "location_id": "L1", "quantity": "53",
                                                      "occurred_at": "1970-01-01T00:00:00.000Z"}},
        {"type": "PHYSICAL_COUNT", "physical_count": {"catalog_object_id": "VAR-B", "state": "IN_STOCK",
                                                      "location_id": "L1", "quantity": "0",
                                                      "occurred_at": "1970-01-01T00:00:00.000Z"}},
    ]


def test_an_error_inside_a_200_fails_only_the_change_it_names() -> None:
    payload = {"counts": [], "errors": [square_wire.error_entry(404, "no such catalog object", "NOT_FOUND",
                                                                 "changes[1].physical_count.catalog_object_id")]}
    results = push_results(["A", "B", "C"], payload)
    assert [r.ok for r in results] == [True, False, True]
    assert "NOT_FOUND" in results[1].error and "changes[1]" in results[1].error


def test_an_error_naming_no_change_fails_the_whole_batch() -> None:
    results = push_results(["A", "B"], {"errors": [square_wire.error_entry(400, "bad request")]})
    text = "INVALID_REQUEST_ERROR: BAD_REQUEST: bad request"
    assert results == [PushResult("A", False, text), PushResult("B", False, text)]


def test_error_text_reads_square_errors_and_survives_none() -> None:
    assert errors_text({"errors": [{"category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED"}]}) == \
        "RATE_LIMIT_ERROR: RATE_LIMITED"
    assert errors_text({}) == "no error detail"


def test_shown_quantities_keep_only_our_location_in_stock() -> None:
    counts = [{"catalog_object_id": "VAR-A", "location_id": "L1", "state": "IN_STOCK", "quantity": "12"},
              {"catalog_object_id": "VAR-A", "location_id": "L1", "state": "WASTE", "quantity": "3"},
              {"catalog_object_id": "VAR-B", "location_id": "L2", "state": "IN_STOCK", "quantity": "7"},
              {"catalog_object_id": "COFFEE", "location_id": "L1", "state": "IN_STOCK", "quantity": "9"}]
    assert shown_quantities(counts, SKU_OF, "L1") == {"SHEET-A": 12}


def test_square_takes_a_count_only_as_a_non_negative_decimal_string() -> None:
    assert square_wire.counted_units("53") == 53
    assert square_wire.counted_units("4.0") == 4
    assert square_wire.counted_units(53) is None
    assert square_wire.counted_units("-1") is None
    assert square_wire.counted_units("lots") is None
    assert square_wire.counted_units("NaN") is None


def test_a_completed_till_sale_is_a_sale_of_our_lines_summed_per_sku() -> None:
    event = order_event(an_order(), SKU_OF)
    assert event is not None
    assert event.event_id == "ORD1:sale" and event.kind is OrderEventKind.SALE and event.order_id == "ORD1"
    assert event.lines == (OrderLine("SHEET-A", 3),)
    assert event.occurred_at == parse_iso("2026-08-19T10:01:00.000Z")


def test_a_cancelled_order_is_a_cancellation_and_an_open_one_is_created() -> None:
    cancelled, opened = order_event(an_order("CANCELED"), SKU_OF), order_event(an_order("OPEN"), SKU_OF)
    assert cancelled is not None and cancelled.kind is OrderEventKind.CANCELLED
    assert cancelled.event_id == "ORD1:cancelled"
    assert opened is not None and opened.kind is OrderEventKind.CREATED and opened.event_id == "ORD1:created"


def test_a_completed_pickup_order_is_shipped_not_sold_again() -> None:
    event = order_event(an_order(fulfillments=[{"type": "PICKUP", "state": "COMPLETED"}]), SKU_OF)
    assert event is not None and event.kind is OrderEventKind.SHIPPED and event.event_id == "ORD1:shipped"


def test_the_webhooks_state_decides_the_kind_even_when_the_order_moved_on() -> None:
    event = order_event(an_order("CANCELED"), SKU_OF, state="COMPLETED")
    assert event is not None and event.event_id == "ORD1:sale"


def test_drafts_and_orders_with_nothing_of_ours_are_no_events() -> None:
    assert order_event(an_order("DRAFT"), SKU_OF) is None
    assert order_event(an_order(line_items=[{"catalog_object_id": "COFFEE", "quantity": "1"}]), SKU_OF) is None


def test_an_order_updated_delivery_names_the_order_its_state_and_location() -> None:
    envelope = {"merchant_id": "M", "type": "order.updated", "event_id": "e-1", "created_at": "x",
                "data": {"type": "order", "id": "ORD1", "object": {"order_updated": {
                    "order_id": "ORD1", "state": "COMPLETED", "version": 1, "location_id": "L1"}}}}
    assert webhook_order(envelope) == ("ORD1", "COMPLETED", "L1")
    assert webhook_order({**envelope, "type": "inventory.count.updated"}) is None
    assert webhook_order({"type": "order.updated", "data": {}}) is None


def test_the_order_search_filters_on_updated_at_sorted_ascending_with_a_clamped_limit() -> None:
    body = search_body("L1", 0.0, "CUR", 5000)
    assert body == {"location_ids": ["L1"], "limit": 1000, "cursor": "CUR", "query": {
        "filter": {"date_time_filter": {"updated_at": {"start_at": "1970-01-01T00:00:00.000Z"}}},
        "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}}}
    assert "cursor" not in search_body("L1", 0.0, None, 10)


def test_the_first_poll_sweeps_back_the_whole_look_back() -> None:
    start, scan = PollCursor.first(now=100 * HOUR).scan(100 * HOUR, 72 * HOUR, 600, 30)
    assert start == 28 * HOUR and scan.sweeping


def test_a_scan_keeps_its_start_across_pages_and_then_moves_the_watermark() -> None:
    now = 100 * HOUR
    _, scan = PollCursor.first(now).scan(now, 72 * HOUR, 600, 30)
    paged = scan.after_page(high=now - 50 * HOUR, page="P2", now=now)
    assert paged.page == "P2" and paged.start == scan.start
    again, _ = paged.scan(now + 1, 72 * HOUR, 600, 30)
    assert again == scan.start
    done = paged.after_page(high=now + 5, page=None, now=now + 1)
    assert done.start is None and done.watermark == now + 5 and done.last_sweep == now + 1


def test_between_sweeps_a_poll_looks_back_only_the_overlap_and_sweeps_again_when_due() -> None:
    resting = PollCursor(watermark=1000.0, last_sweep=900.0)
    start, scan = resting.scan(now=1010.0, lookback=72 * HOUR, sweep_every=600, overlap=30)
    assert start == 970.0 and not scan.sweeping
    start, scan = resting.scan(now=1600.0, lookback=72 * HOUR, sweep_every=600, overlap=30)
    assert start == 1000.0 - 72 * HOUR and scan.sweeping


def test_the_poll_cursor_survives_encoding() -> None:
    cursor = PollCursor(1.5, 2.5, 0.5, "P", 3.5, True)
    assert PollCursor.decode(cursor.encode()) == cursor


def test_the_assumed_limit_can_be_configured() -> None:
    assert configured_limit({}, ASSUMED_LIMIT) == RateSpec(10.0, 20.0)
    assert configured_limit({"rate_limit": {"rate": 2}}, ASSUMED_LIMIT) == RateSpec(2.0, 20.0)
