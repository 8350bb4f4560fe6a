"""POST /api/v1/products takes an optional GTIN per variant (UPC-12 or EAN-13, check digit
validated; 422 naming the field otherwise) and GET /api/v1/products/{sku} shows it."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import Service


def product(variants: list[dict[str, str]]) -> dict[str, object]:
    return {"sku": f"P-{uuid.uuid4().hex[:8].upper()}", "name": "Percale sheet", "variants": variants}


def test_a_variants_gtin_is_stored_and_shown_with_the_product(service: Service) -> None:
    body = product([{"sku": f"S-{uuid.uuid4().hex[:8]}", "gtin": "012345678905"},
                    {"sku": f"S-{uuid.uuid4().hex[:8]}"}])
    with service.client() as api:
        created = api.post("/api/v1/products", json=body)
        assert created.status_code == 201, created.text
        shown = api.get(f"/api/v1/products/{body['sku']}").json()
        assert [v["gtin"] for v in shown["variants"]] == ["012345678905", None]


@pytest.mark.parametrize(("gtin", "status"), [("012345678901", 422), ("12345", 422), ("4006381333931", 201)])
def test_a_gtin_with_a_wrong_check_digit_is_refused_naming_the_field(service: Service, gtin: str,
                                                                      status: int) -> None:
    with service.client() as api:
        answer = api.post("/api/v1/products", json=product([{"sku": f"K-{uuid.uuid4().hex[:8]}"}, {"sku": f"S-{uuid.uuid4().hex[:8]}",
                                                                               "gtin": gtin}]))
        assert answer.status_code == status, answer.text
        if status == 422:
            assert answer.json()["error"]["message"].startswith("variants[1].gtin")


def test_a_gtin_already_taken_is_a_conflict(service: Service) -> None:
    with service.client() as api:
        first = api.post("/api/v1/products", json=product([{"sku": f"S-{uuid.uuid4().hex[:8]}",
                                                            "gtin": "5901234123457"}]))
        assert first.status_code == 201, first.text
        again = api.post("/api/v1/products", json=product([{"sku": f"S-{uuid.uuid4().hex[:8]}",
                                                            "gtin": "5901234123457"}]))
        assert again.status_code == 409 and "gtin" in again.json()["error"]["message"]
