"""Calls the partner e2e tests make as a partner would: signed Shopify deliveries, and reading a
partner's open dead letters."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx

from tests.e2e.conftest import Service


def shopify_webhook(demo: Service, order_id: int, sku: str, quantity: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({
        "id": order_id, "name": f"#{order_id}", "created_at": "2026-11-27T10:00:00Z",
        "updated_at": "2026-11-27T10:00:00Z", "cancelled_at": None, "fulfillment_status": None,
        "financial_status": "paid",
        "line_items": [{"id": order_id * 10, "sku": sku, "quantity": quantity, "variant_id": 1}],
    }).encode()
    return body, signed_shopify(demo, body)


def signed_shopify(demo: Service, body: bytes) -> dict[str, str]:
    secrets = json.loads((demo.data_dir / "demo_partner_credentials.json").read_text())["shopify"]
    signature = base64.b64encode(hmac.new(secrets["app_secret"].encode(), body, hashlib.sha256).digest())
    return {"X-Shopify-Hmac-Sha256": signature.decode(), "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Shop-Domain": secrets["shop_domain"],
            "X-Shopify-Triggered-At": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "Content-Type": "application/json"}


def dead_letters_of(api: httpx.Client, partner: str, order_id: str) -> list[dict[str, Any]]:
    found = api.get(f"/api/v1/partners/{partner}/dead-letters", params={"status": "open"}).json()
    return [letter for letter in found if letter["order_id"] == order_id]
