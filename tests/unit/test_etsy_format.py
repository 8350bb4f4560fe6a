"""Etsy's formats without a network: webhook signatures, the inventory rewrite, receipts as events,
and the receipts cursor."""

from __future__ import annotations

import copy
from typing import Any

from connectors.base import OrderEventKind, OrderLine
from connectors.etsy_cursor import ReceiptCursor
from connectors.etsy_format import (
    inventory_for_put,
    money_amount,
    receipt_events,
    receipt_id_from_url,
    shown_quantities,
    sign_webhook,
    verify_signature,
)
from simulators import etsy_wire

# The Standard Webhooks specification's own example.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID, STAMP, BODY = "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", b'{"test": 2432232314}'
EXPECTED = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
PROFILE = 1_200_000_001   # the listing's processing profile (readiness_state_id)


def put_body_error(body: Any) -> str | None:
    """What Etsy refuses in an inventory PUT (the simulator's etsy_wire checks), or None."""
    try:
        etsy_wire.check_inventory_put(body)
    except etsy_wire.Refused as refusal:
        return str(refusal)
    return None


def verify(signature: str, body: bytes = BODY, now: float = 1614265330, stamp: str = STAMP) -> bool:
    return verify_signature(SECRET, MSG_ID, stamp, signature, body, now=now, tolerance=300)


def test_the_signature_matches_the_standard_webhooks_example() -> None:
    assert sign_webhook(SECRET, MSG_ID, STAMP, BODY) == EXPECTED
    assert verify(EXPECTED)


def test_any_one_of_several_signatures_may_match() -> None:
    assert verify(f"v1,bm90IHRoaXMgb25l {EXPECTED}")
    assert not verify("v1,bm90IHRoaXMgb25l v1,YW5kIG5vdCB0aGlzIG9uZQ==")


def test_a_tampered_body_or_signature_is_refused() -> None:
    assert not verify(EXPECTED, body=b'{"test": 2432232315}')
    assert not verify(EXPECTED[:-2] + "A=")
    assert not verify(EXPECTED.replace("v1,", "v2,"))
    assert not verify("")


def test_a_timestamp_outside_the_tolerance_is_refused_either_way() -> None:
    assert verify(EXPECTED, now=1614265330 + 300)
    assert not verify(EXPECTED, now=1614265330 + 301)
    assert not verify(EXPECTED, now=1614265330 - 301)
    assert not verify(EXPECTED, stamp="yesterday")


def test_a_secret_that_is_not_base64_refuses_everything() -> None:
    assert not verify_signature("whsec_not base64!", MSG_ID, STAMP, EXPECTED, BODY, now=1614265330, tolerance=300)


def test_the_receipt_id_comes_from_the_resource_url() -> None:
    assert receipt_id_from_url("https://openapi.etsy.com/v3/application/shops/12345/receipts/54321") == "54321"
    assert receipt_id_from_url("https://openapi.etsy.com/v3/application/shops/12345") is None


def product(sku: str, size: int, color: int, quantity: int, enabled: bool = True) -> dict[str, Any]:
    return {
        "product_id": 900 + size + color, "sku": sku, "is_deleted": False,
        "property_values": [
            {"property_id": 100, "property_name": "Size", "scale_id": None, "value_ids": [size], "values": [str(size)]},
            {"property_id": 200, "property_name": "Primary color", "scale_id": None, "value_ids": [color],
             "values": [str(color)]}],
        "offerings": [{"offering_id": 800 + size + color, "quantity": quantity, "is_enabled": enabled,
                       "is_deleted": False, "price": {"amount": 4550, "divisor": 100, "currency_code": "USD"},
                       "readiness_state_id": PROFILE}]}


def inventory() -> dict[str, Any]:
    return {"products": [product("SHEET-Q-WHT", 1, 10, 4), product("SHEET-Q-GRY", 1, 20, 4),
                         product("SHEET-K-WHT", 2, 10, 4, enabled=False)],
            "price_on_property": [], "quantity_on_property": [], "sku_on_property": [100, 200],
            "readiness_state_on_property": []}


def test_a_get_answer_is_not_a_valid_put_body() -> None:
    assert put_body_error(inventory()) == "products[0].is_deleted: unexpected property"


def test_the_put_body_sets_our_quantities_and_sends_every_other_product_back() -> None:
    body, found = inventory_for_put(inventory(), {"SHEET-Q-GRY": 9, "ELSEWHERE": 3})
    assert found == {"SHEET-Q-GRY"}
    assert [p["sku"] for p in body["products"]] == ["SHEET-Q-WHT", "SHEET-Q-GRY", "SHEET-K-WHT"]
    assert [p["offerings"] for p in body["products"]] == [
        [{"price": 45.5, "quantity": 4, "is_enabled": True, "readiness_state_id": PROFILE}],
        [{"price": 45.5, "quantity": 9, "is_enabled": True, "readiness_state_id": PROFILE}],
        [{"price": 45.5, "quantity": 4, "is_enabled": False, "readiness_state_id": PROFILE}]]
    assert body["products"][0]["property_values"][0] == {
        "property_id": 100, "property_name": "Size", "scale_id": None, "value_ids": [1], "values": ["1"]}
    assert put_body_error(body) is None


def test_differing_quantities_name_the_properties_that_vary_them() -> None:
    body, _ = inventory_for_put(inventory(), {"SHEET-Q-GRY": 9})
    assert body["quantity_on_property"] == [100, 200]
    same, _ = inventory_for_put(inventory(), {"SHEET-Q-GRY": 4})
    assert same["quantity_on_property"] == []
    unvaried = dict(body, quantity_on_property=[])
    assert put_body_error(unvaried) == "quantity_on_property: products differ in quantity but no property varies it"


def test_quantities_are_clamped_to_what_etsy_takes() -> None:
    body, _ = inventory_for_put(inventory(), {"SHEET-Q-WHT": 1500, "SHEET-Q-GRY": -3})
    assert [p["offerings"][0]["quantity"] for p in body["products"]] == [999, 0, 4]


def test_deleted_products_and_offerings_stay_deleted() -> None:
    answer = inventory()
    answer["products"][2]["is_deleted"] = True
    body, _ = inventory_for_put(answer, {})
    assert [p["sku"] for p in body["products"]] == ["SHEET-Q-WHT", "SHEET-Q-GRY"]


def test_the_put_checks_refuse_what_etsy_refuses() -> None:
    good, _ = inventory_for_put(inventory(), {})

    def broken(change: Any) -> str | None:
        body = copy.deepcopy(good)
        change(body)
        return put_body_error(body)

    assert broken(lambda b: b["products"][0]["offerings"][0].update(quantity=1000)) \
        == "products[0].offerings[0].quantity: must be an integer from 0 to 999"
    assert broken(lambda b: b["products"][0]["offerings"][0].update(price={"amount": 4550, "divisor": 100})) \
        == "products[0].offerings[0].price: must be a number from 0.2 to 50000"
    assert broken(lambda b: b["products"][1].update(sku="SHEET-Q-WHT")) == "products: SKUs must be unique within a listing"
    assert broken(lambda b: b["products"][1].update(property_values=b["products"][0]["property_values"])) \
        == "products: two products have the same property values"
    assert broken(lambda b: b["products"][0]["offerings"].append({"price": 1.0, "quantity": 1, "is_enabled": True})) \
        == "products[0].offerings: must hold exactly one offering"
    assert broken(lambda b: b.update(sku_on_property=[300])) == "sku_on_property: must list property ids used by the products"
    assert put_body_error({"products": []}) == "products: must be a non-empty array"
    assert broken(lambda b: b["products"][0]["offerings"][0].pop("readiness_state_id")) \
        == "products[0].offerings[0].readiness_state_id: is required (the offering's processing profile)"
    assert broken(lambda b: b.pop("readiness_state_on_property")) \
        == "readiness_state_on_property: is required (which properties vary the processing profile)"


def test_processing_profiles_that_vary_by_property_go_back_as_they_came() -> None:
    answer = inventory()
    answer["products"][1]["offerings"][0]["readiness_state_id"] = PROFILE + 1
    answer["readiness_state_on_property"] = [200]
    body, _ = inventory_for_put(answer, {"SHEET-Q-WHT": 2})
    assert [p["offerings"][0]["readiness_state_id"] for p in body["products"]] == [PROFILE, PROFILE + 1, PROFILE]
    assert body["readiness_state_on_property"] == [200]
    assert put_body_error(body) is None


def test_what_buyers_see_leaves_out_disabled_offerings() -> None:
    assert shown_quantities(inventory()) == {"SHEET-Q-WHT": 4, "SHEET-Q-GRY": 4, "SHEET-K-WHT": 0}
    assert money_amount({"amount": 1999, "divisor": 100}) == 19.99
    assert money_amount(12.5) == 12.5


def receipt(receipt_id: int, status: str, updated: int = 1_700_000_100, shipped: bool = False) -> dict[str, Any]:
    return {"receipt_id": receipt_id, "status": status, "is_paid": status not in ("open", "payment processing"),
            "is_shipped": shipped, "create_timestamp": 1_700_000_000, "update_timestamp": updated,
            "transactions": [{"sku": "SHEET-Q-WHT", "quantity": 1}, {"sku": "SHEET-Q-WHT", "quantity": 2},
                             {"sku": "", "quantity": 1}, {"sku": "PILLOW-STD", "quantity": 1}]}


def test_a_paid_receipt_is_a_created_order_with_its_lines_summed_per_sku() -> None:
    [event] = receipt_events(receipt(77, "paid"))
    assert (event.event_id, event.kind, event.order_id) == ("77:created", OrderEventKind.CREATED, "77")
    assert event.lines == (OrderLine("SHEET-Q-WHT", 3), OrderLine("PILLOW-STD", 1))
    assert event.occurred_at == 1_700_000_000


def test_a_receipt_first_seen_completed_or_cancelled_still_gives_its_creation() -> None:
    assert [e.event_id for e in receipt_events(receipt(77, "completed", shipped=True))] == ["77:created", "77:shipped"]
    cancelled = receipt_events(receipt(77, "canceled"))
    assert [(e.event_id, e.occurred_at) for e in cancelled] == [("77:created", 1_700_000_000),
                                                                 ("77:cancelled", 1_700_000_100)]
    assert receipt_events(receipt(77, "open")) == []


def test_the_cursor_reads_each_receipt_state_once_even_within_one_second() -> None:
    cursor = ReceiptCursor(1_700_000_000)
    page = [receipt(1, "paid", 1_700_000_050), receipt(2, "paid", 1_700_000_100)]
    assert cursor.fresh(page) == page
    after = cursor.after(page)
    assert after == ReceiptCursor(1_700_000_100, frozenset({"2:paid:False"}))
    again = [receipt(2, "paid", 1_700_000_100), receipt(3, "paid", 1_700_000_100),
             receipt(2, "completed", 1_700_000_100, shipped=True)]
    assert [r["receipt_id"] for r in after.fresh(again)] == [3, 2]
    assert after.after(again).seen == {"2:paid:False", "3:paid:False", "2:completed:True"}


def test_a_cursor_survives_its_text_form() -> None:
    cursor = ReceiptCursor(1_700_000_100, frozenset({"2:paid:False"}))
    assert ReceiptCursor.decode(cursor.encode(), 0) == cursor
    assert ReceiptCursor.decode(None, 123) == ReceiptCursor(123)
    assert ReceiptCursor(5).after([]) == ReceiptCursor(5)
