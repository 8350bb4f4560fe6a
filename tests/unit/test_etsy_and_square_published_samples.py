"""The partners' own published samples, fed to both sides: our connectors read (or verify) them, and
the simulators produce or accept them alike."""

from __future__ import annotations

from typing import Any

from connectors.base import PartnerSpec
from connectors.etsy_format import inventory_for_put, shown_quantities, verify_signature
from connectors.square import SquareConnector
from connectors.square_format import push_results, signature, signature_ok
from connectors.square_format import shown_quantities as square_shown
from simulators import etsy_wire, square_wire

# Square's published webhook signature example (its SDKs' WebhooksHelper test).
SQ_BODY = (b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":'
           b'"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z",'
           b'"data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}')
SQ_KEY, SQ_URL = "Ibxx_5AKakO-3qeNVR61Dw", "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
SQ_SIGNATURE = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="

# Square's published BatchChangeInventory answer (API reference example).
SQ_BATCH_ANSWER = {"counts": [{"catalog_object_id": "W62UWFY35CWMYGVWK6TWJDNI", "catalog_object_type": "ITEM_VARIATION",
                               "state": "IN_STOCK", "location_id": "C6W5YS5QM06F5", "quantity": "53",
                               "calculated_at": "2016-11-16T22:28:01.223Z"}]}

# Etsy's getListingInventory answer, in the shape its reference documents (ListingInventoryWithAssociations).
ETSY_INVENTORY: dict[str, Any] = {
    "products": [{
        "product_id": 3_417_211_111, "sku": "SHEET-Q-WHT", "is_deleted": False,
        "offerings": [{"offering_id": 4_411_111_111, "quantity": 12, "is_enabled": True, "is_deleted": False,
                       "price": {"amount": 4500, "divisor": 100, "currency_code": "USD"},
                       "readiness_state_id": 1_234_567_890}],
        "property_values": [{"property_id": 200, "property_name": "Primary color", "scale_id": None,
                             "scale_name": None, "value_ids": [1213], "values": ["White"]}]},
        {"product_id": 3_417_211_112, "sku": "SHEET-Q-GRY", "is_deleted": False,
         "offerings": [{"offering_id": 4_411_111_112, "quantity": 0, "is_enabled": True, "is_deleted": False,
                        "price": {"amount": 4500, "divisor": 100, "currency_code": "USD"},
                        "readiness_state_id": 1_234_567_891}],
         "property_values": [{"property_id": 200, "property_name": "Primary color", "scale_id": None,
                              "scale_name": None, "value_ids": [1214], "values": ["Gray"]}]}],
    "price_on_property": [], "quantity_on_property": [200], "sku_on_property": [200],
    "readiness_state_on_property": [200], "listing": None}


def test_squares_published_signature_example_verifies_on_both_sides() -> None:
    assert signature(SQ_KEY, SQ_URL, SQ_BODY) == SQ_SIGNATURE
    assert signature_ok(SQ_KEY, SQ_URL, SQ_BODY, SQ_SIGNATURE)
    assert square_wire.webhook_signature(SQ_KEY, SQ_URL, SQ_BODY) == SQ_SIGNATURE


def test_the_connector_takes_squares_example_at_its_registered_url_until_it_is_too_old() -> None:
    spec = PartnerSpec("square", "square", "http://127.0.0.1:1", {"signature_key": SQ_KEY},
                       {"webhook_url": SQ_URL, "webhook_max_age_s": 100 * 365 * 86_400})
    headers = {"x-square-hmacsha256-signature": SQ_SIGNATURE}
    assert SquareConnector(spec).verify_webhook(headers, SQ_BODY, "http://127.0.0.1:8001/webhooks/square")
    spec.options.pop("webhook_max_age_s")
    assert not SquareConnector(spec).verify_webhook(headers, SQ_BODY, "http://127.0.0.1:8001/webhooks/square")


def test_the_connector_reads_squares_published_batch_change_answer() -> None:
    assert square_shown(SQ_BATCH_ANSWER["counts"], {"W62UWFY35CWMYGVWK6TWJDNI": "SHEET-Q-WHT"},
                        "C6W5YS5QM06F5") == {"SHEET-Q-WHT": 53}
    assert [r.ok for r in push_results(["SHEET-Q-WHT"], SQ_BATCH_ANSWER)] == [True]


def test_etsys_published_inventory_shape_is_read_and_put_back_as_etsy_takes_it() -> None:
    assert shown_quantities(ETSY_INVENTORY) == {"SHEET-Q-WHT": 12, "SHEET-Q-GRY": 0}
    body, found = inventory_for_put(ETSY_INVENTORY, {"SHEET-Q-GRY": 4})
    assert found == {"SHEET-Q-GRY"} and body["readiness_state_on_property"] == [200]
    assert [p["offerings"][0]["readiness_state_id"] for p in body["products"]] == [1_234_567_890, 1_234_567_891]
    etsy_wire.check_inventory_put(body)   # raises Refused for anything Etsy would refuse


def test_the_standard_webhooks_test_vector_verifies_on_both_sides() -> None:
    secret, msg_id, stamp = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330"
    body, expected = b'{"test": 2432232314}', "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert etsy_wire.webhook_signature(secret, msg_id, stamp, body) == expected
    assert verify_signature(secret, msg_id, stamp, expected, body, now=1614265330, tolerance=300)
