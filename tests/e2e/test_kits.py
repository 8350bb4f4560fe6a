"""Kits over REST, as API.md's "Kits and holds" describes them: define one, read its stock, order it,
fulfil it; the components move, the ledger names the kit order."""

from __future__ import annotations

import time
import uuid
from contextlib import closing

import httpx
import pytest

from tests.e2e.accounts import csrf_of, log_in, make_user
from tests.e2e.conftest import Service
from tests.e2e.test_api import new_skus, receive, stock


def new_kit(api: httpx.Client, components: list[tuple[str, int]]) -> str:
    sku = f"KIT-{uuid.uuid4().hex[:8].upper()}"
    answer = api.post("/api/v1/kits", json={"sku": sku, "name": "Queen sheet set", "components": [
        {"sku": c, "quantity": q} for c, q in components]})
    assert answer.status_code == 201, answer.text
    assert answer.json()["components"] == [{"sku": c, "quantity": q} for c, q in components]
    return sku


def test_a_kit_is_defined_stocked_ordered_and_fulfilled_over_rest(service: Service) -> None:
    with service.client() as api:
        flat, fitted, pillow = new_skus(api, 3)
        receive(api, flat, "WH-EAST", 3)
        receive(api, fitted, "WH-EAST", 5)
        receive(api, pillow, "WH-EAST", 4)
        receive(api, pillow, "WH-WEST", 2)
        kit = new_kit(api, [(flat, 1), (fitted, 1), (pillow, 2)])
        shown = stock(api, kit)
        assert shown["available"] == 3  # six pillowcases over two warehouses make three pairs
        assert {loc["location"]: loc["available"] for loc in shown["locations"]} == {"WH-EAST": 2, "WH-WEST": 0}

        placed = api.post("/api/v1/orders", json={"channel": "direct", "external_id": uuid.uuid4().hex,
                                                  "lines": [{"sku": kit, "quantity": 2}]})
        assert placed.status_code == 201, placed.text
        order = placed.json()
        [line] = order["lines"]
        assert (order["status"], line["sku"], line["quantity"], line["reserved"]) == ("reserved", kit, 2, 2)
        assert line["allocations"] == [{"location": "WH-EAST", "quantity": 2}]
        assert [c["sku"] for c in line["components"]] == [flat, fitted, pillow]
        assert stock(api, kit)["available"] == 1
        assert stock(api, pillow)["reserved"] == 4

        again = api.post("/api/v1/orders", json={"channel": "direct", "external_id": order["external_id"],
                                                 "lines": [{"sku": kit, "quantity": 2}]})
        assert again.status_code == 200 and again.json()["lines"] == order["lines"]
        assert api.get(f"/api/v1/orders/{order['id']}").json()["lines"] == order["lines"]

        done = api.post(f"/api/v1/orders/{order['id']}/fulfill")
        assert done.status_code == 200 and done.json()["status"] == "fulfilled"
        assert (stock(api, flat)["on_hand"], stock(api, pillow)["on_hand"]) == (1, 2)
        moves = api.get("/api/v1/ledger", params={"sku": pillow, "limit": 10}).json()
        assert {m["reference"] for m in moves if m["kind"] == "fulfil"} == {order["id"]}
        assert api.get("/api/v1/ledger/check").json()["ok"] is True


def test_a_kit_order_short_of_one_component_is_rejected_whole(service: Service) -> None:
    with service.client() as api:
        sheet, pillow = new_skus(api, 2)
        receive(api, sheet, "WH-EAST", 5)
        receive(api, pillow, "WH-EAST", 1)
        kit = new_kit(api, [(sheet, 1), (pillow, 2)])
        answer = api.post("/api/v1/orders", json={"channel": "direct", "external_id": uuid.uuid4().hex,
                                                  "lines": [{"sku": kit, "quantity": 1}]}).json()
        assert answer["status"] == "rejected" and answer["lines"][0]["reserved"] == 0
        assert (stock(api, sheet)["reserved"], stock(api, pillow)["reserved"]) == (0, 0)


@pytest.mark.parametrize("components, field", [
    ([], "components"),
    ([{"sku": "NOPE-NOPE", "quantity": 1}], "components[0].sku"),
    ([{"sku": "SAME", "quantity": 0}], "components[0].quantity"),
    ([{"sku": "SAME", "quantity": 1}, {"sku": "SAME", "quantity": 2}], "components[1].sku"),
    ([{"sku": "KIT", "quantity": 1}], "components[0].sku"),
])
def test_a_kit_that_cannot_be_made_is_refused_naming_the_field(service: Service, components: list[dict[str, object]],
                                                               field: str) -> None:
    with service.client() as api:
        [same] = new_skus(api)
        inner = new_kit(api, [(same, 1)])
        named = [{**c, "sku": {"SAME": same, "KIT": inner}.get(str(c["sku"]), c["sku"])} for c in components]
        answer = api.post("/api/v1/kits", json={"sku": f"K-{uuid.uuid4().hex[:6]}", "name": "Set",
                                                "components": named})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["message"].startswith(f"{field}:")
        taken = api.post("/api/v1/kits", json={"sku": inner, "name": "Set", "components": [
            {"sku": same, "quantity": 1}]})
        assert taken.status_code == 409 and taken.json()["error"]["message"].startswith("sku:")
        receipt = api.post("/api/v1/stock/receipts", json={"sku": inner, "location": "WH-EAST", "quantity": 1})
        assert receipt.status_code == 422 and "kit" in receipt.json()["error"]["message"]


def test_a_manager_defines_a_kit_on_the_dashboard_and_a_wrong_line_is_named(service: Service) -> None:
    with service.client() as api:
        sheet, pillow = new_skus(api, 2)
    with closing(log_in(service, make_user(service, "manager"))) as browser:
        csrf = csrf_of(browser.get("/kits/new").text)
        sku = f"KIT-{uuid.uuid4().hex[:8].upper()}"
        bad = browser.post("/kits/new", data={"sku": sku, "name": "Set", "components": f"{sheet}\n{pillow} x",
                                              "csrf_token": csrf})
        assert bad.status_code == 422 and "line 2" in bad.text
        made = browser.post("/kits/new", data={"sku": sku, "name": "Set", "csrf_token": csrf,
                                               "components": f"{sheet}\n{pillow} x 2"})
        assert made.status_code == 200 and f"Created kit {sku}" in made.text
    with service.client() as api:
        assert api.get(f"/api/v1/variants/{sku}/stock").json()["available"] == 0


def test_the_dashboards_order_page_shows_a_kit_line_with_its_components(service: Service) -> None:
    with service.client() as api:
        sheet, pillow = new_skus(api, 2)
        receive(api, sheet, "WH-EAST", 2)
        receive(api, pillow, "WH-EAST", 2)
        kit = new_kit(api, [(sheet, 1), (pillow, 2)])
        order = api.post("/api/v1/orders", json={"channel": "direct", "external_id": uuid.uuid4().hex,
                                                 "lines": [{"sku": kit, "quantity": 1}]}).json()
    with closing(log_in(service, make_user(service, "viewer"))) as browser:
        page = browser.get(f"/orders/{order['id']}").text
    assert kit in page and sheet in page and pillow in page and "kit component" in page


def test_kits_imported_from_a_csv_are_made_whole_or_refused_row_by_row(service: Service) -> None:
    with service.client() as api:
        sheet, pillow = new_skus(api, 2)
    good, bad = f"KIT-{uuid.uuid4().hex[:8].upper()}", f"KIT-{uuid.uuid4().hex[:8].upper()}"
    text = (f"kit_sku,kit_name,component_sku,quantity\n{good},Queen set,{sheet},1\n{good},,{pillow},2\n"
            f"{bad},Broken set,{sheet},1\n{bad},,NOPE-NOPE,1\n")
    with closing(log_in(service, make_user(service, "manager"))) as browser:
        csrf = csrf_of(browser.get("/bulk").text)
        answer = browser.post("/bulk/kits", data={"csrf_token": csrf},
                              files={"file": ("kits.csv", text.encode(), "text/csv")})
        assert answer.status_code == 303, answer.text
        job = answer.headers["location"]
        for _ in range(100):  # the import runs as a job: its rejected rows grow until it is done
            rejected = browser.get(f"{job}/rejected.csv").text
            if "NOPE-NOPE" in rejected:
                break
            time.sleep(0.1)
    assert "5,component_sku,unknown sku 'NOPE-NOPE'" in rejected and f"4,kit_sku,kit {bad} not made" in rejected
    with service.client() as api:
        assert api.get(f"/api/v1/variants/{good}/stock").status_code == 200
        assert api.get(f"/api/v1/variants/{bad}/stock").status_code == 404
