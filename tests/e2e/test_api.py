"""The REST API over real HTTP, as API.md describes it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Service


def new_skus(api: httpx.Client, count: int = 1) -> list[str]:
    product = f"P-{uuid.uuid4().hex[:8].upper()}"
    skus = [f"{product}-{i}" for i in range(count)]
    answer = api.post("/api/v1/products", json={
        "sku": product, "name": "Linen duvet cover", "description": "test",
        "variants": [{"sku": s, "size": "queen", "color": "sage", "material": "linen"} for s in skus],
    })
    assert answer.status_code == 201, answer.text
    return skus


def receive(api: httpx.Client, sku: str, location: str, quantity: int) -> dict[str, Any]:
    answer = api.post("/api/v1/stock/receipts", json={"sku": sku, "location": location, "quantity": quantity})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def stock(api: httpx.Client, sku: str) -> dict[str, Any]:
    return dict(api.get(f"/api/v1/variants/{sku}/stock").json())


def ledger_size(api: httpx.Client) -> int:
    return len(api.get("/api/v1/ledger", params={"limit": 1000}).json())


def test_health_says_ok_when_orders_can_be_taken(service: Service) -> None:
    assert httpx.get(f"{service.base}/healthz").json() == {"status": "ok"}


def test_the_openapi_document_describes_every_route(service: Service) -> None:
    doc = httpx.get(f"{service.base}/api/v1/openapi.json").json()
    for path in ("/api/v1/orders", "/api/v1/orders/{id}/fulfill", "/api/v1/stock/transfers",
                 "/api/v1/variants/{sku}/stock", "/api/v1/ledger", "/api/v1/locations"):
        assert path in doc["paths"]


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic abc"])
def test_the_api_refuses_a_missing_or_wrong_token(service: Service, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    answer = httpx.get(f"{service.base}/api/v1/locations", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_locations_are_created_listed_and_unique(service: Service) -> None:
    with service.client() as api:
        code = f"WH-{uuid.uuid4().hex[:6].upper()}"
        made = api.post("/api/v1/locations", json={"code": code, "name": "Outlet", "kind": "store",
                                                   "priority": 90})
        assert made.status_code == 201 and made.json()["kind"] == "store"
        assert code in [loc["code"] for loc in api.get("/api/v1/locations").json()]
        again = api.post("/api/v1/locations", json={"code": code, "name": "Outlet", "kind": "store"})
        assert again.status_code == 409 and "code" in again.json()["error"]["message"]


def test_a_product_is_created_with_its_variants_and_read_back(service: Service) -> None:
    with service.client() as api:
        sku = new_skus(api, 3)[0]
        product = api.get(f"/api/v1/products/{sku.rsplit('-', 1)[0]}").json()
        assert product["variants"][0]["sku"] == sku
        assert product["variants"][0]["material"] == "linen"
        assert api.get("/api/v1/products/NO-SUCH").status_code == 404


@pytest.mark.parametrize(("route", "body", "status", "field"), [
    ("/api/v1/locations", {"code": "X1", "name": "x", "kind": "barn"}, 422, "kind"),
    ("/api/v1/locations", {"name": "x", "kind": "store"}, 422, "code"),
    ("/api/v1/products", {"sku": "P-EMPTY", "name": "x", "variants": []}, 422, "variants"),
    ("/api/v1/products", {"sku": "P-X", "name": "x", "variants": [{"size": "q"}]}, 422, "variants[0].sku"),
    ("/api/v1/stock/receipts", {"sku": "NOPE", "location": "WH-EAST", "quantity": 1}, 422, "sku"),
    ("/api/v1/stock/receipts", {"sku": "$SKU", "location": "WH-EAST", "quantity": 0}, 422, "quantity"),
    ("/api/v1/stock/receipts", {"sku": "$SKU", "location": "NOWHERE", "quantity": 1}, 422, "location"),
    ("/api/v1/stock/receipts", {"sku": "$SKU", "location": "WH-EAST", "quantity": "5"}, 422, "quantity"),
    ("/api/v1/stock/adjustments", {"sku": "$SKU", "location": "WH-EAST", "delta": 1}, 422, "reason"),
    ("/api/v1/stock/adjustments", {"sku": "$SKU", "location": "WH-EAST", "delta": 1, "count": 2,
                                   "reason": "count"}, 422, "delta"),
    ("/api/v1/stock/adjustments", {"sku": "$SKU", "location": "WH-EAST", "count": -1,
                                   "reason": "count"}, 422, "count"),
    ("/api/v1/stock/transfers", {"sku": "$SKU", "from_location": "WH-EAST", "to_location": "WH-EAST",
                                 "quantity": 1}, 422, "to_location"),
    ("/api/v1/stock/transfers", {"sku": "$SKU", "from_location": "WH-EAST", "to_location": "WH-WEST",
                                 "quantity": 999}, 409, "quantity"),
    ("/api/v1/stock/adjustments", {"sku": "$SKU", "location": "WH-EAST", "delta": -99,
                                   "reason": "damage"}, 409, "delta"),
    ("/api/v1/orders", {"channel": "nowhere", "external_id": "x", "lines": [{"sku": "$SKU", "quantity": 1}]},
     422, "channel"),
    ("/api/v1/orders", {"channel": "direct", "external_id": "x", "lines": []}, 422, "lines"),
    ("/api/v1/orders", {"channel": "direct", "external_id": "x", "lines": [{"sku": "$SKU", "quantity": 0}]},
     422, "lines[0].quantity"),
    ("/api/v1/orders", {"channel": "direct", "external_id": "x", "lines": [{"sku": "NOPE", "quantity": 1}]},
     422, "lines[0].sku"),
    ("/api/v1/orders", {"channel": "direct", "lines": [{"sku": "$SKU", "quantity": 1}]}, 422, "external_id"),
    ("/api/v1/orders", ["not", "an", "object"], 400, "body"),
    ("/api/v1/stock/adjustments", {"sku": "$SKU", "location": "WH-EAST", "delta": 598_441_159,
                                   "reason": "loss"}, 422, "delta"),
    ("/api/v1/stock/adjustments", {"sku": "$SKU", "location": "WH-EAST", "delta": 3, "reason": "loss"}, 422, "delta"),
    ("/api/v1/stock/adjustments", {"sku": "$SKU", "location": "WH-EAST", "delta": -3, "reason": "found"},
     422, "delta"),
    ("/api/v1/stock/adjustments", {"sku": "$SKU", "location": "WH-EAST", "delta": 2_000_000,
                                   "reason": "correction"}, 422, "delta"),
    ("/api/v1/stock/adjustments", {"sku": "$SKU", "location": "WH-EAST", "count": 2_000_000,
                                   "reason": "count"}, 422, "count"),
    ("/api/v1/locations", {"code": "X2", "name": "Out\u0007let", "kind": "store"}, 422, "name"),
    ("/api/v1/products", {"sku": "P-NUL", "name": "Sheet\u0000", "variants": [{"sku": "P-NUL-1"}]}, 422, "name"),
    ("/api/v1/orders", {"channel": "direct", "external_id": "x\u0000y", "lines": [{"sku": "$SKU", "quantity": 1}]},
     422, "external_id"),
])
def test_bad_input_gets_a_4xx_naming_the_field_and_changes_nothing(
    service: Service, route: str, body: Any, status: int, field: str
) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        receive(api, sku, "WH-EAST", 5)
        before, entries = stock(api, sku), ledger_size(api)
        if isinstance(body, dict):
            body = {k: sku if v == "$SKU" else v for k, v in body.items()}
            if "lines" in body:
                body["lines"] = [{k: sku if v == "$SKU" else v for k, v in line.items()} for line in body["lines"]]
        answer = api.post(route, json=body)
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["message"].startswith(field)
        assert stock(api, sku) == before and ledger_size(api) == entries


def test_a_body_with_a_key_twice_is_a_400_naming_the_key_and_changes_nothing(service: Service) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        receive(api, sku, "WH-EAST", 5)
        before, entries = stock(api, sku), ledger_size(api)
        body = f'{{"sku": "{sku}", "location": "WH-EAST", "quantity": 1, "quantity": 900}}'.encode()
        answer = api.post("/api/v1/stock/receipts", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == {"code": "malformed_json",
                                          "message": "body: the key 'quantity' appears twice in one object"}
        assert stock(api, sku) == before and ledger_size(api) == entries


def test_a_note_may_hold_line_breaks(service: Service) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        receive(api, sku, "WH-EAST", 5)
        answer = api.post("/api/v1/stock/adjustments", json={"sku": sku, "location": "WH-EAST", "delta": -1,
                                                             "reason": "damage", "note": "torn\n\tseam"})
        assert answer.status_code == 201, answer.text


def test_malformed_json_is_a_400_and_unknown_routes_a_404(service: Service) -> None:
    with service.client() as api:
        answer = api.post("/api/v1/orders", content=b"{not json", headers={"content-type": "application/json"})
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "malformed_json"
        assert api.get("/api/v1/nothing-here").status_code == 404
        assert api.get("/api/v1/orders/ord_missing").json()["error"]["code"] == "not_found"


def test_receipts_adjustments_and_transfers_move_stock_and_write_the_ledger(service: Service) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        assert receive(api, sku, "WH-EAST", 10)["on_hand"] == 10
        counted = api.post("/api/v1/stock/adjustments", json={"sku": sku, "location": "WH-EAST", "count": 8,
                                                              "reason": "count", "note": "cycle count"})
        assert counted.status_code == 201 and counted.json()["on_hand"] == 8
        damaged = api.post("/api/v1/stock/adjustments",
                           json={"sku": sku, "location": "WH-EAST", "delta": -1, "reason": "damage"})
        assert damaged.json()["available"] == 7
        moved = api.post("/api/v1/stock/transfers", json={"sku": sku, "from_location": "WH-EAST",
                                                          "to_location": "WH-WEST", "quantity": 3})
        assert moved.status_code == 201
        levels = {row["location"]: row["on_hand"] for row in stock(api, sku)["locations"]}
        assert levels == {"WH-EAST": 4, "WH-WEST": 3}
        kinds = [e["kind"] for e in api.get("/api/v1/ledger", params={"sku": sku}).json()]
        assert kinds == ["transfer_in", "transfer_out", "adjustment", "adjustment", "receipt"]
        entry = api.get("/api/v1/ledger", params={"sku": sku, "location": "WH-EAST", "limit": 3}).json()[1]
        assert entry["reason"] == "damage" and entry["actor"]


def test_a_rest_adjustment_lands_in_the_audit_trail_naming_the_api_caller(service: Service) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        receive(api, sku, "WH-EAST", 5)
        answer = api.post("/api/v1/stock/adjustments", json={"sku": sku, "location": "WH-EAST", "delta": -2,
                                                             "reason": "damage", "note": "torn"})
        assert answer.status_code == 201, answer.text
        refused = api.post("/api/v1/stock/adjustments", json={"sku": sku, "location": "WH-EAST", "delta": -9,
                                                              "reason": "loss"})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "below_reserved"
    with sqlite3.connect(service.data_dir / "threadcount.db") as db:  # the trail has no REST route
        rows = db.execute("SELECT actor, action, detail FROM audit_log WHERE subject = ? ORDER BY id",
                          (sku,)).fetchall()
    assert [(actor, action) for actor, action, _ in rows] == [("admin-token", "stock.receive"),
                                                             ("admin-token", "stock.adjust")]
    detail = json.loads(rows[1][2])
    assert (detail["location"], detail["delta"], detail["reason"], detail["note"]) == ("WH-EAST", -2, "damage", "torn")


def test_a_receipt_sent_twice_with_one_idempotency_key_is_applied_once(service: Service) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        body, key = {"sku": sku, "location": "WH-EAST", "quantity": 4}, {"Idempotency-Key": uuid.uuid4().hex}
        first = api.post("/api/v1/stock/receipts", json=body, headers=key)
        second = api.post("/api/v1/stock/receipts", json=body, headers=key)
        assert first.json() == second.json() and stock(api, sku)["on_hand"] == 4


def test_an_order_splits_over_the_channels_locations_and_a_replay_returns_the_first_answer(
    service: Service,
) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        receive(api, sku, "WH-EAST", 3)
        receive(api, sku, "WH-WEST", 5)
        body = {"channel": "direct", "external_id": uuid.uuid4().hex, "lines": [{"sku": sku, "quantity": 5}]}
        first = api.post("/api/v1/orders", json=body)
        assert first.status_code == 201
        order = first.json()
        assert order["status"] == "reserved"
        assert order == api.get(f"/api/v1/orders/{order['id']}").json()  # one shape, one truth
        assert order["lines"][0]["allocations"] == [{"location": "WH-EAST", "quantity": 3},
                                                     {"location": "WH-WEST", "quantity": 2}]
        again = api.post("/api/v1/orders", json=body)
        assert again.status_code == 200
        assert {k: again.json()[k] for k in ("id", "status", "lines")} == \
               {"id": order["id"], "status": "reserved", "lines": api.get(f"/api/v1/orders/{order['id']}").json()["lines"]}
        assert stock(api, sku)["reserved"] == 5
        listed = api.get("/api/v1/orders", params={"channel": "direct", "external_id": body["external_id"]})
        assert [o["id"] for o in listed.json()] == [order["id"]]


def test_a_direct_order_for_too_much_is_rejected_and_reserves_nothing(service: Service) -> None:
    with service.client() as api:
        a, b = new_skus(api, 2)
        receive(api, a, "WH-EAST", 5)
        answer = api.post("/api/v1/orders", json={"channel": "direct", "external_id": uuid.uuid4().hex,
                                                  "lines": [{"sku": a, "quantity": 2}, {"sku": b, "quantity": 1}]})
        assert answer.status_code == 201 and answer.json()["status"] == "rejected"
        assert stock(api, a)["reserved"] == 0


def test_a_backorder_channel_backorders_the_shortfall_and_fills_it_when_stock_arrives(service: Service) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        receive(api, sku, "WH-EAST", 2)
        order = api.post("/api/v1/orders", json={"channel": "amazon", "external_id": uuid.uuid4().hex,
                                                 "lines": [{"sku": sku, "quantity": 5}]}).json()
        assert order["status"] == "partially_backordered" and order["lines"][0]["backordered"] == 3
        assert stock(api, sku)["backordered"] == 3
        assert api.post(f"/api/v1/orders/{order['id']}/fulfill").status_code == 409
        receive(api, sku, "WH-WEST", 10)
        filled = api.get(f"/api/v1/orders/{order['id']}").json()
        assert filled["status"] == "reserved" and filled["lines"][0]["reserved"] == 5
        assert stock(api, sku)["backordered"] == 0


def test_fulfil_commits_the_units_and_cancel_releases_them(service: Service) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        receive(api, sku, "WH-EAST", 10)
        place = {"channel": "direct", "lines": [{"sku": sku, "quantity": 3}]}
        shipped = api.post("/api/v1/orders", json={**place, "external_id": uuid.uuid4().hex}).json()
        dropped = api.post("/api/v1/orders", json={**place, "external_id": uuid.uuid4().hex}).json()
        done = api.post(f"/api/v1/orders/{shipped['id']}/fulfill")
        assert done.status_code == 200 and done.json()["status"] == "fulfilled"
        cancelled = api.post(f"/api/v1/orders/{dropped['id']}/cancel")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        assert stock(api, sku) | {"locations": None} == {
            "sku": sku, "on_hand": 7, "reserved": 0, "available": 7, "backordered": 0, "locations": None}
        assert api.post(f"/api/v1/orders/{shipped['id']}/cancel").status_code == 409
        assert api.post(f"/api/v1/orders/{shipped['id']}/fulfill").status_code == 200  # harmless again
        assert api.post("/api/v1/orders/ord_nothing/fulfill").status_code == 404


def test_the_ledger_check_proves_stock_rows_equal_the_ledger(service: Service) -> None:
    with service.client() as api:
        assert api.get("/api/v1/ledger/check").json() == {"ok": True, "mismatches": []}


async def test_64_concurrent_http_clients_get_exactly_the_100_units_held_across_two_locations(
    service: Service,
) -> None:
    with service.client() as api:
        sku = new_skus(api)[0]
        receive(api, sku, "WH-EAST", 60)
        receive(api, sku, "WH-WEST", 40)
    async with service.async_client() as client:
        run = uuid.uuid4().hex

        async def buy(i: int) -> dict[str, Any]:
            answer = await client.post("/api/v1/orders", json={
                "channel": "direct", "external_id": f"{run}-{i}", "lines": [{"sku": sku, "quantity": 2}]})
            assert answer.status_code in (200, 201), answer.text
            return dict(answer.json())

        orders = await asyncio.gather(*(buy(i) for i in range(64)))
        again = await asyncio.gather(*(buy(i) for i in range(64)))
    assert sum(o["lines"][0]["reserved"] for o in orders) == 100
    assert sorted(o["status"] for o in again) == sorted(o["status"] for o in orders)
    with service.client() as api:
        assert stock(api, sku)["reserved"] == 100 and stock(api, sku)["available"] == 0


def test_a_body_over_a_megabyte_is_refused_before_it_is_read(service: Service) -> None:
    with service.client() as api:
        answer = api.post("/api/v1/orders", content=b"[" + b"1," * 600_000 + b"1]",
                          headers={"content-type": "application/json"})
        assert answer.status_code == 413 and answer.json()["error"]["code"] == "body_too_large"
