"""Etsy deliveries the security review found dangerous: each is refused (the ingress answers 401)
rather than crashing the ingress or passing unsigned."""

from __future__ import annotations

import time

from connectors.base import PartnerSpec
from connectors.etsy import EtsyConnector
from connectors.etsy_format import sign_webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"event_type":"order.paid","resource_url":"https://openapi.etsy.com/v3/application/shops/1/receipts/2","shop_id":1}'
URL = "https://threadcount.example.com/webhooks/etsy"


def connector(secret: str = SECRET) -> EtsyConnector:
    creds = {"keystring": "k", "shared_secret": "s", "shop_id": "1", "webhook_secret": secret}
    return EtsyConnector(PartnerSpec("etsy", "etsy", "http://127.0.0.1:1", creds))


def headers(stamp: str, signature: str) -> dict[str, str]:
    return {"webhook-id": "msg_1", "webhook-timestamp": stamp, "webhook-signature": signature}


def test_a_timestamp_too_large_for_a_float_is_refused_not_a_crash() -> None:
    huge = "1" + "0" * 400
    signature = sign_webhook(SECRET, "msg_1", huge, BODY)
    assert connector().verify_webhook(headers(huge, signature), BODY, URL) is False


def test_an_empty_webhook_secret_verifies_nothing_even_what_an_empty_key_signed() -> None:
    stamp = str(int(time.time()))
    signed_with_nothing = sign_webhook("whsec_", "msg_1", stamp, BODY)
    assert connector("").verify_webhook(headers(stamp, signed_with_nothing), BODY, URL) is False
    assert connector("whsec_").verify_webhook(headers(stamp, signed_with_nothing), BODY, URL) is False


def test_a_good_delivery_still_verifies() -> None:
    stamp = str(int(time.time()))
    assert connector().verify_webhook(headers(stamp, sign_webhook(SECRET, "msg_1", stamp, BODY)), BODY, URL)


async def test_a_delivery_of_any_event_but_order_paid_gives_nothing_and_calls_nothing() -> None:
    body = BODY.replace(b"order.paid", b"order.shipped")
    assert await connector().parse_webhook({}, body) == []
