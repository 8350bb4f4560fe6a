"""An Idempotency-Key over real HTTP: scoped to the route and the body, so a reused key never answers
with another request's result."""

from __future__ import annotations

import uuid

from tests.e2e.conftest import Service
from tests.e2e.test_api import new_skus, receive, stock


def test_a_key_reused_for_another_sku_is_a_422_and_applies_nothing(service: Service) -> None:
    with service.client() as api:
        first_sku, other_sku = new_skus(api, 2)
        key = {"Idempotency-Key": uuid.uuid4().hex}
        first = api.post("/api/v1/stock/receipts", json={"sku": first_sku, "location": "WH-EAST", "quantity": 3},
                         headers=key)
        reused = api.post("/api/v1/stock/receipts", json={"sku": other_sku, "location": "WH-EAST", "quantity": 3},
                          headers=key)
        assert first.status_code == 201 and reused.status_code == 422, reused.text
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        assert "Idempotency-Key" in reused.json()["error"]["message"]
        assert stock(api, other_sku)["on_hand"] == 0 and stock(api, first_sku)["on_hand"] == 3


def test_the_same_key_and_body_replays_the_first_answer_even_with_other_spacing(service: Service) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        key = {"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}
        first = api.post("/api/v1/stock/receipts", headers=key,
                         content=f'{{"sku": "{sku}", "location": "WH-EAST", "quantity": 5}}')
        again = api.post("/api/v1/stock/receipts", headers=key,
                         content=f'{{"quantity":5,"location":"WH-EAST","sku":"{sku}"}}')
        assert (first.status_code, again.status_code) == (201, 201) and first.json() == again.json()
        assert stock(api, sku)["on_hand"] == 5


def test_the_same_key_on_another_route_is_another_key(service: Service) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        receive(api, sku, "WH-EAST", 10)
        key = {"Idempotency-Key": uuid.uuid4().hex}
        receipt = api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 2},
                           headers=key)
        adjustment = api.post("/api/v1/stock/adjustments", headers=key, json={
            "sku": sku, "location": "WH-EAST", "delta": -1, "reason": "damage"})
        assert (receipt.status_code, adjustment.status_code) == (201, 201), adjustment.text
        assert stock(api, sku)["on_hand"] == 11


def test_a_key_first_sent_with_an_invalid_body_is_still_free_for_the_corrected_one(service: Service) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        key = {"Idempotency-Key": uuid.uuid4().hex}
        bad = api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 0},
                       headers=key)
        good = api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 1},
                        headers=key)
        assert (bad.status_code, good.status_code) == (422, 201) and stock(api, sku)["on_hand"] == 1
