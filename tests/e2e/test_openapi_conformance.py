"""Schemathesis against the running service: every operation of the OpenAPI document, with data that
fits it (each must be accepted) and data that breaks it (each must be refused), over real HTTP. No
5xx, and every answer - its status, content type, headers and body - is one the document names.

It runs on the session's partner demo (every partner and its simulator), so the partner routes answer
with data; the demo's modules run in a fixed order and this one last (tests/e2e/conftest.py), so no
other module sees the generated orders, users and stock."""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.case import Case

from tests.e2e.conftest import Service

MAX_EXAMPLES = 15
SKUS = ("CONF-SHEET-Q", "CONF-SHEET-K")
LOCATIONS = ("WH-EAST", "WH-WEST", "STORE-SOHO")
# What a request can only get wrong against the data held, never against its shape: JSON Schema has
# no words for "a SKU that exists", "no two variants alike", "not the same location twice" or a GS1
# check digit, "a variant that is not itself a kit", nor "an Idempotency-Key this caller already sent
# with another body". A 422 for one of these is the right answer to data that fits the document.
RULES_NO_SCHEMA_CAN_STATE = re.compile(
    r"^[\w.\[\]]+: (unknown (sku|location) |'.*' appears twice$|must differ from from_location$|check digit is "
    r"|'.*' is a kit: )"
    r"|^Idempotency-Key: already used on this route with another body")
STATS: dict[str, int] = {}
LOG_FROM: dict[str, int] = {}  # where the service's log stood when this module began


@pytest.fixture(scope="module")
def conformance_service(demo: Service, sims: dict[str, str]) -> Iterator[Service]:
    """The session's demo with every partner listed, so the partner routes answer with data too, and a
    product, stock and an order of this module's own for the generated requests to name."""
    LOG_FROM["offset"] = Path(demo.process.log_path).stat().st_size
    with demo.client() as api:
        have = {row["code"] for row in api.get("/api/v1/locations").json()}
        for priority, code in enumerate(LOCATIONS):
            if code not in have:
                api.post("/api/v1/locations", json={
                    "code": code, "name": code, "priority": priority,
                    "kind": "store" if code.startswith("STORE") else "warehouse"}).raise_for_status()
        api.post("/api/v1/products", json={"sku": "CONF-SHEET", "name": "Percale sheet", "variants": [
            {"sku": sku} for sku in SKUS]}).raise_for_status()
        for sku in SKUS:
            api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 50}
                     ).raise_for_status()
        order = api.post("/api/v1/orders", json={"channel": "direct", "external_id": "conf-1",
                                                 "lines": [{"sku": SKUS[0], "quantity": 1}]})
        order.raise_for_status()
    demo.env["CONF_ORDER_ID"] = order.json()["id"]
    demo.env["CONF_PARTNERS"] = ",".join(sorted(sims))
    started = time.monotonic()
    yield demo
    STATS["seconds"] = round(time.monotonic() - started)
    print(f"\nschemathesis: {STATS}")


@pytest.fixture(scope="module")
def api_schema(conformance_service: Service) -> Any:
    config = SchemathesisConfig.from_dict({
        "auth": {"openapi": {"bearer": {"bearer": conformance_service.token}}},
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "database": "none"},
        "phases": {"examples": {"enabled": False}, "coverage": {"enabled": True},
                   "fuzzing": {"enabled": True}, "stateful": {"enabled": False}},
        "seed": 20261202,
    })
    return schemathesis.openapi.from_url(f"{conformance_service.base}/api/v1/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


def positive_data_acceptance_but_for_rules_no_schema_can_state(ctx: Any, response: Any, case: Case) -> bool | None:
    """Data that fits the document is accepted, except what only the data held can refuse."""
    if response.status_code == 422 and case.meta is not None and case.meta.generation.mode.is_positive:
        message = str(response.json().get("error", {}).get("message", ""))
        if RULES_NO_SCHEMA_CAN_STATE.match(message):
            return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result


def with_known_names(case: Case, service: Service) -> None:
    """Every other case that fits the document names what the service holds (a SKU, a location, an
    order), so the answers past the lookups - 201s, 409s - are checked too, not only 'unknown sku'."""
    if case.meta is None or not case.meta.generation.mode.is_positive or zlib.crc32(repr(case.body).encode()) % 2:
        return
    if isinstance(case.body, dict):
        known = {"sku": SKUS[0], "location": LOCATIONS[0], "from_location": LOCATIONS[0],
                 "to_location": LOCATIONS[1], "channel": "direct"}
        case.body.update({key: value for key, value in known.items() if key in case.body})
        for line in case.body.get("lines") or []:
            if isinstance(line, dict) and "sku" in line and "/orders" in case.path:
                line["sku"] = SKUS[1]
    if case.path_parameters:
        if "{sku}" in case.path:
            case.path_parameters["sku"] = "CONF-SHEET" if case.path.startswith("/api/v1/products") else SKUS[0]
        if case.path.startswith("/api/v1/orders/{id}"):
            case.path_parameters["id"] = service.env["CONF_ORDER_ID"]
        if case.path.startswith("/api/v1/partners/{id}"):
            partners = service.env["CONF_PARTNERS"].split(",")
            case.path_parameters["id"] = partners[zlib.crc32(repr(case.query).encode()) % len(partners)]


@schema.parametrize()
def test_every_operation_answers_as_the_openapi_document_says(case: Case, conformance_service: Service) -> None:
    with_known_names(case, conformance_service)
    response = case.call_and_validate(
        timeout=60, excluded_checks=[positive_data_acceptance],
        additional_checks=[positive_data_acceptance_but_for_rules_no_schema_can_state])
    key = f"{case.meta.generation.mode.value if case.meta else '?'}:{response.status_code}"
    STATS[key] = STATS.get(key, 0) + 1
    STATS["cases"] = STATS.get("cases", 0) + 1
    conformance_service.process.check_alive()


def test_the_service_is_still_whole_after_the_generated_traffic(conformance_service: Service) -> None:
    with conformance_service.client() as api:
        assert api.get("/api/v1/ledger/check").json()["ok"] is True
    with open(conformance_service.process.log_path, "rb") as file:   # what this module's traffic logged
        log = file.read()[LOG_FROM["offset"]:].decode(errors="replace")
    assert "Exception in ASGI application" not in log, log[-4000:]  # what a 500 leaves behind


# -- what schemathesis found, one test each ------------------------------------------------------


@pytest.mark.parametrize("limit", ["", " 7", "+7", "1_0", "7.0", "0", "1001"])
def test_a_limit_that_is_not_digits_in_range_is_refused_not_read_as_the_default(
        conformance_service: Service, limit: str) -> None:
    with conformance_service.client() as api:
        answer = api.get("/api/v1/ledger", params={"limit": limit})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "invalid_query"
    assert answer.json()["error"]["message"].startswith("limit: ")


def test_query_flags_and_filters_take_only_the_values_the_document_lists(conformance_service: Service) -> None:
    with conformance_service.client() as api:
        assert api.get("/api/v1/alerts", params={"all": "yes"}).status_code == 400
        assert api.get("/api/v1/alerts", params={"all": "true"}).status_code == 200
        answer = api.get("/api/v1/partners/nobody/dead-letters", params={"status": ""})
        assert answer.status_code == 422 and answer.json()["error"]["message"].startswith("status: ")


@pytest.mark.parametrize("content_type", [None, "text/plain", "multipart/form-data", "application/x-www-form-urlencoded"])
def test_a_body_not_sent_as_json_is_refused_with_415(conformance_service: Service, content_type: str | None) -> None:
    body = b'{"sku": "CONF-SHEET-Q", "location": "WH-WEST", "quantity": 1}'
    with conformance_service.client() as api:
        answer = api.post("/api/v1/stock/receipts", content=body,
                          headers={"content-type": content_type} if content_type else {})
    assert answer.status_code == 415, answer.text
    assert answer.json()["error"]["message"].startswith("Content-Type: ")


def test_text_is_taken_as_sent_so_a_trailing_space_is_refused_naming_the_field(conformance_service: Service) -> None:
    with conformance_service.client() as api:
        answer = api.post("/api/v1/stock/receipts", json={"sku": "CONF-SHEET-Q ", "location": "WH-WEST",
                                                          "quantity": 1})
    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == "sku: must not begin or end with a space or a control character"


def test_a_whole_number_written_with_a_point_zero_is_that_number(conformance_service: Service) -> None:
    with conformance_service.client() as api:
        before = api.get(f"/api/v1/variants/{SKUS[1]}/stock").json()["on_hand"]
        answer = api.post("/api/v1/stock/receipts", json={"sku": SKUS[1], "location": "WH-WEST", "quantity": 2.0})
    assert answer.status_code == 201, answer.text
    assert answer.json()["on_hand"] == before + 2


def test_the_served_document_lists_the_configured_channels_and_a_reused_order_id(conformance_service: Service) -> None:
    with conformance_service.client() as api:
        document = api.get("/api/v1/openapi.json").json()
    channel = document["components"]["schemas"]["OrderCreate"]["properties"]["channel"]
    assert "direct" in channel["enum"] and "shopify" in channel["enum"]
    assert "409" in document["paths"]["/api/v1/orders"]["post"]["responses"]


def test_an_idempotency_key_used_for_an_adjustment_does_not_answer_a_receipt(conformance_service: Service) -> None:
    key = {"Idempotency-Key": "conf-shared-key"}
    with conformance_service.client() as api:
        refused = api.post("/api/v1/stock/adjustments", headers=key, json={
            "sku": SKUS[0], "location": "STORE-SOHO", "delta": -1, "reason": "loss"})
        assert refused.status_code == 409, refused.text  # nothing there to lose
        receipt = api.post("/api/v1/stock/receipts", headers=key, json={
            "sku": SKUS[1], "location": "STORE-SOHO", "quantity": 3})
        again = api.post("/api/v1/stock/receipts", headers=key, json={
            "sku": SKUS[1], "location": "STORE-SOHO", "quantity": 3})
    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["sku"] == SKUS[1]
    assert again.json() == receipt.json()  # the same route again: the first answer, applied once
