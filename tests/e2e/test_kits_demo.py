"""Kits in the demo: sheet sets made of the demo's sheets and pillowcases, on the first page of the
stock grid, at every partner, and following their components live."""

from __future__ import annotations

import re
from contextlib import closing

import httpx

from tests.e2e.accounts import log_in
from tests.e2e.conftest import Service
from tests.e2e.partner_demo import desired, order_of, shown, wait_for
from tests.e2e.test_dashboard_pages import PASSWORD

KIT = "BEDSET-COT-Q-WHT"
COMPONENTS = ("FLAT-COT-Q-WHT", "FSHEET-COT-Q-WHT", "PILLOW-COT-STD-WHT")
CHANNEL = ("WH-EAST", "WH-WEST")  # Amazon's locations in config.yaml


def free(api: httpx.Client, sku: str, locations: tuple[str, ...] | None = None) -> int:
    levels = api.get(f"/api/v1/variants/{sku}/stock").json()["locations"]
    return sum(level["available"] for level in levels if locations is None or level["location"] in locations)


def test_the_demos_sheet_sets_are_what_their_components_allow(api: httpx.Client) -> None:
    kit = api.get(f"/api/v1/variants/{KIT}/stock").json()
    assert kit["available"] == min(free(api, sku) for sku in COMPONENTS)


def test_a_new_user_sees_the_sheet_sets_on_the_first_page(demo: Service) -> None:
    with closing(log_in(demo, "admin", PASSWORD)) as browser:
        page = browser.get("/stock").text
    first_rows = re.findall(r'data-sku="([^"]+)" data-location="all"', page)[:20]
    assert KIT in first_rows


def test_a_component_change_reaches_the_kit_at_every_partner_like_any_stock_change(
        api: httpx.Client, sims: dict[str, str]) -> None:
    want = min(free(api, sku, CHANNEL) for sku in COMPONENTS)
    wait_for(lambda: desired(api, "amazon", kits=True).get(KIT) == want, 30, "amazon should show the kit")
    wait_for(lambda: shown(sims["amazon"]).get(KIT) == want, 30, "amazon shows the kit")
    for sku in COMPONENTS:
        answer = api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 5})
        assert answer.status_code == 201, answer.text
    wait_for(lambda: shown(sims["amazon"]).get(KIT) == want + 5, 5, "amazon shows five more sets")
    assert api.get(f"/api/v1/variants/{KIT}/stock").json()["available"] >= want + 5


def test_a_shopper_buys_a_sheet_set_at_a_partner_and_every_component_is_reserved(
        api: httpx.Client, sims: dict[str, str]) -> None:
    wait_for(lambda: (shown(sims["ebay"]).get(KIT) or 0) >= 1, 30, "ebay shows the set in stock")
    before = {sku: free(api, sku) for sku in COMPONENTS}
    placed = httpx.post(f"{sims['ebay']}/_sim/orders", json={"sku": KIT, "quantity": 1}, timeout=10).json()
    order = wait_for(lambda: order_of(api, "ebay", placed["order_id"]), 10, "the eBay order of a set here")
    [line] = order["lines"]
    assert (order["status"], line["sku"], line["reserved"]) == ("reserved", KIT, 1)
    assert [c["sku"] for c in line["components"]] == list(COMPONENTS)
    assert {sku: free(api, sku) for sku in COMPONENTS} == {sku: n - 1 for sku, n in before.items()}
