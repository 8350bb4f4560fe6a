"""Etsy's side of the Open API v3 wire: signing a webhook delivery as Standard Webhooks does, money
as Etsy shows it, and the checks Etsy makes on an inventory PUT before it replaces a listing's
whole inventory (what the body may hold, and how its products must agree with one another; each
offering's processing profile, `readiness_state_id`, and `readiness_state_on_property` included).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

MOST_UNITS = 999                      # an offering's quantity, at most
CHEAPEST, DEAREST = 0.2, 50_000.0     # an offering's price, in the shop's currency
PUT_PRODUCT_KEYS = {"sku", "property_values", "offerings"}
PUT_PROPERTY_KEYS = {"property_id", "value_ids", "scale_id", "property_name", "values"}
PUT_OFFERING_KEYS = {"price", "quantity", "is_enabled", "readiness_state_id"}
ON_PROPERTY = ("price_on_property", "quantity_on_property", "sku_on_property", "readiness_state_on_property")


def webhook_signature(secret: str, message_id: str, sent_at: str, body: bytes) -> str:
    """`webhook-signature`: "v1," and the base64 HMAC-SHA256 of "<id>.<timestamp>.<body>", keyed by
    the secret's base64 after its `whsec_` prefix."""
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret, validate=True)
    mac = hmac.new(key, b"%s.%s.%s" % (message_id.encode(), sent_at.encode(), body), hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def money(price: float) -> dict[str, Any]:
    """Etsy shows prices as {amount, divisor, currency_code}; a PUT sends a plain number back."""
    return {"amount": round(price * 100), "divisor": 100, "currency_code": "USD"}


class Refused(ValueError):
    """An inventory PUT Etsy answers with 400; the message names the first offending field."""


def check_inventory_put(body: Any) -> None:
    """Raise `Refused` for the first thing Etsy would refuse in an inventory PUT body."""
    products = body.get("products") if isinstance(body, Mapping) else None
    if not isinstance(products, list) or len(products) == 0:
        raise Refused("products: must be a non-empty array")
    for position, product in enumerate(products):
        _check_product(position, product)
    named = [product.get("sku") for product in products if product.get("sku")]
    if len(set(named)) < len(named):
        raise Refused("products: SKUs must be unique within a listing")
    properties = [{value["property_id"]: tuple(value["value_ids"])
                   for value in product.get("property_values", [])}
                  for product in products]
    if len({frozenset(chosen) for chosen in properties}) != 1:
        raise Refused("products: every product must have values for the same properties")
    if len({frozenset(chosen.items()) for chosen in properties}) < len(properties):
        raise Refused("products: two products have the same property values")
    _check_on_property(body, products, {property_id for chosen in properties for property_id in chosen})


def _check_product(position: int, product: Any) -> None:
    where = f"products[{position}]"
    if not isinstance(product, Mapping):
        raise Refused(f"{where}.must be an object")
    unknown = sorted(product.keys() - PUT_PRODUCT_KEYS)
    if unknown:
        raise Refused(f"{where}.{unknown[0]}: unexpected property")
    if not isinstance(product.get("sku", ""), str):
        raise Refused(f"{where}.sku: must be a string")
    values = product.get("property_values", [])
    if not isinstance(values, list):
        raise Refused(f"{where}.property_values: must be an array")
    for n, value in enumerate(values):
        if not (isinstance(value, Mapping) and value.keys() <= PUT_PROPERTY_KEYS
                and type(value.get("property_id")) is int and isinstance(value.get("value_ids"), list)):
            raise Refused(f"{where}.property_values[{n}]: needs property_id and value_ids, "
                          "and nothing unexpected")
    offerings = product.get("offerings")
    if not (isinstance(offerings, list) and len(offerings) == 1):
        raise Refused(f"{where}.offerings: must hold exactly one offering")
    _check_offering(f"{where}.offerings[0]", offerings[0])


def _check_offering(where: str, offering: Any) -> None:
    if not isinstance(offering, Mapping):
        raise Refused(f"{where}: must be an object")
    unknown = sorted(offering.keys() - PUT_OFFERING_KEYS)
    if unknown:
        raise Refused(f"{where}.{unknown[0]}: unexpected property")
    price, units = offering.get("price"), offering.get("quantity")
    if not _between(price, (int, float), CHEAPEST, DEAREST):
        raise Refused(f"{where}.price: must be a number from {CHEAPEST} to {DEAREST:g}")
    if not _between(units, (int,), 0, MOST_UNITS):
        raise Refused(f"{where}.quantity: must be an integer from 0 to {MOST_UNITS}")
    if type(offering.get("is_enabled")) is not bool:
        raise Refused(f"{where}.is_enabled: must be a boolean")
    # Since processing profiles, a physical listing's every offering names one.
    if not _between(offering.get("readiness_state_id"), (int,), 1, float("inf")):
        raise Refused(f"{where}.readiness_state_id: is required (the offering's processing profile)")


def _check_on_property(body: Mapping[str, Any], products: list[Any], used: set[int]) -> None:
    if "readiness_state_on_property" not in body:
        raise Refused("readiness_state_on_property: is required "
                      "(which properties vary the processing profile)")
    for name in ON_PROPERTY:
        listed = body.get(name, [])
        if not isinstance(listed, list) or any(not isinstance(p, int) or p not in used for p in listed):
            raise Refused(f"{name}: must list property ids used by the products")
    quantities = {sum(o["quantity"] for o in product["offerings"]) for product in products}
    if len(quantities) > 1 and not body.get("quantity_on_property"):
        raise Refused("quantity_on_property: products differ in quantity but no property varies it")
    prices = {o["price"] for product in products for o in product["offerings"]}
    if len(prices) > 1 and not body.get("price_on_property"):
        raise Refused("price_on_property: products differ in price but no property varies it")
    profiles = {o["readiness_state_id"] for product in products for o in product["offerings"]}
    if len(profiles) > 1 and not body.get("readiness_state_on_property"):
        raise Refused("readiness_state_on_property: products differ in processing profile but no property "
                      "varies it")


def _between(value: Any, kinds: tuple[type, ...], low: float, high: float) -> bool:
    """A JSON number of one of `kinds` (true and false are not numbers here) within low..high."""
    return type(value) in kinds and low <= value <= high
