"""The managers' dashboard in a real browser (Playwright + Chromium) against the real service: login,
the live stock grid, manual controls, the stock-take upload, CSRF, the event stream's resumption and
orders. One service for the module; screenshots go to tests/e2e/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.e2e.conftest import REPO, Service, start_service

PASSWORD = "dashboard-core-e2e"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = "/usr/bin/chromium"
SKUS = ("LIVE-SHEET-Q-WHT", "LIVE-SHEET-K-WHT", "LIVE-SHEET-Q-NVY", "LIVE-SHEET-K-NVY")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    if not (REPO / "node_modules" / "htmx.org" / "dist").is_dir():
        pytest.fail("the dashboard's front-end packages are missing: run `npm ci` in the repository first")
    running = start_service(tmp_path_factory.mktemp("dashboard-core"),
                            extra_env={"THREADCOUNT_ADMIN_PASSWORD": PASSWORD})
    with running.client() as api:
        for code, priority in (("WH-EAST", 10), ("STORE-SOHO", 30)):
            api.post("/api/v1/locations", json={"code": code, "name": code, "kind": "warehouse",
                                                "priority": priority}).raise_for_status()
        api.post("/api/v1/products", json={"sku": "LIVE-SHEET", "name": "Live sheet", "variants": [
            {"sku": sku, "size": sku.split("-")[2], "color": sku.split("-")[3], "material": "cotton"}
            for sku in SKUS]}).raise_for_status()
        for sku in SKUS:
            api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 20}
                     ).raise_for_status()
    yield running
    running.process.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM)
    yield launched
    launched.close()


def logged_in(browser: Browser, service: Service, width: int = 1366) -> BrowserContext:
    context = browser.new_context(base_url=service.base, viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/stock")
    page.close()
    return context


@pytest.fixture
def manager(browser: Browser, service: Service) -> Iterator[BrowserContext]:
    context = logged_in(browser, service)
    yield context
    context.close()


def stock(service: Service, sku: str) -> dict[str, int]:
    """Available per location and in total ("all"), as the REST API tells it."""
    with service.client() as api:
        answer = api.get(f"/api/v1/variants/{sku}/stock").json()
    return {"all": answer["available"], **{level["location"]: level["available"] for level in answer["locations"]}}


def cell(page: Page, sku: str, location: str) -> str:
    return f'[data-sku="{sku}"][data-location="{location}"]'


def open_live_stock(page: Page, sku: str) -> None:
    page.goto(f"/stock?sku={sku}")
    page.wait_for_selector("#live[data-live=open]", timeout=5000)
    page.evaluate("window.__sameDocument = true")  # gone if the page reloads or navigates


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_a_manager_logs_in_as_admin_and_a_wrong_password_is_refused(browser: Browser, service: Service) -> None:
    context = browser.new_context(base_url=service.base, viewport={"width": 1366, "height": 800})
    page = context.new_page()
    page.goto("/stock")
    assert "/login" in page.url, "a dashboard page without a session sends the browser to the login page"
    shot(page, "login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "not-the-password")
    answer = page.expect_response("**/login")
    with answer as response_info:
        page.click("button[type=submit]")
    assert response_info.value.status == 401
    expect(page.locator("[role=alert]")).to_contain_text("not recognised")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/stock")
    expect(page.locator(".top .who")).to_have_text("admin")
    context.close()


def test_a_stock_change_through_the_rest_api_appears_on_an_open_stock_page_within_a_second(
        manager: BrowserContext, service: Service) -> None:
    page = manager.new_page()
    sku = SKUS[0]
    open_live_stock(page, sku)
    before = stock(service, sku)
    assert page.inner_text(cell(page, sku, "all")) == str(before["all"])
    started = time.monotonic()
    with service.client() as api:
        api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "STORE-SOHO", "quantity": 7}
                 ).raise_for_status()
    expect(page.locator(cell(page, sku, "all"))).to_have_text(str(before["all"] + 7), timeout=1000)
    expect(page.locator(cell(page, sku, "STORE-SOHO"))).to_have_text(str(before.get("STORE-SOHO", 0) + 7),
                                                                      timeout=1000)
    assert time.monotonic() - started < 1.5  # the API call plus at most the one second
    assert page.evaluate("window.__sameDocument === true"), "the page was not reloaded"
    page.goto("/stock")
    page.wait_for_selector("#live[data-live=open]")
    shot(page, "stock")
    page.set_viewport_size({"width": 768, "height": 900})
    shot(page, "stock-tablet")


def test_an_adjustment_made_in_one_browser_appears_in_another_browser(
        browser: Browser, manager: BrowserContext, service: Service) -> None:
    sku = SKUS[1]
    other = logged_in(browser, service, width=768)
    watcher = other.new_page()
    open_live_stock(watcher, sku)
    before = stock(service, sku)["WH-EAST"]
    page = manager.new_page()
    page.goto(f"/controls?sku={sku}")
    form = page.locator("#adjust-form")
    form.locator("select[name=location]").select_option("WH-EAST")
    form.locator("input[name=quantity]").fill("-3")
    form.locator("select[name=reason]").select_option("damage")
    form.locator("input[name=note]").fill("water damage in aisle 4")
    form.locator("button[type=submit]").click()
    expect(page.locator("#adjust-form [role=status]")).to_contain_text("Adjusted")
    expect(watcher.locator(cell(watcher, sku, "WH-EAST"))).to_have_text(str(before - 3), timeout=1000)
    assert watcher.evaluate("window.__sameDocument === true")
    with service.client() as api:
        entry = api.get("/api/v1/ledger", params={"sku": sku, "limit": 1}).json()[0]
    assert (entry["actor"], entry["reason"], entry["note"]) == ("admin", "damage", "water damage in aisle 4")
    shot(page, "controls")
    other.close()


def test_a_bad_adjustment_comes_back_with_the_field_named_and_changes_nothing(
        manager: BrowserContext, service: Service) -> None:
    sku = SKUS[1]
    before = stock(service, sku)
    page = manager.new_page()
    page.goto(f"/controls?sku={sku}")
    form = page.locator("#transfer-form")
    form.locator("select[name=from_location]").select_option("WH-EAST")
    form.locator("select[name=to_location]").select_option("STORE-SOHO")
    form.locator("input[name=quantity]").fill("100000")
    with page.expect_response("**/controls/transfer") as answer:
        form.locator("button[type=submit]").click()
    assert answer.value.status == 409
    expect(page.locator("#transfer-form .field-error")).to_contain_text("quantity")
    assert stock(service, sku) == before


def test_a_stock_take_with_a_bad_row_applies_the_good_rows_and_reports_the_bad_one(
        manager: BrowserContext, service: Service, tmp_path: Path) -> None:
    good, bad = SKUS[2], SKUS[3]
    before_bad = stock(service, bad)
    upload = tmp_path / "count.csv"
    upload.write_text(f"sku,location,count\n{good},WH-EAST,12\n{bad},WH-EAST,minus four\nNO-SUCH-SKU,WH-EAST,1\n")
    page = manager.new_page()
    page.goto("/bulk")
    page.set_input_files("#stocktake-form input[type=file]", str(upload))
    page.click("#stocktake-form button[type=submit]")
    page.wait_for_selector(".job[data-job-state=finished]", timeout=10_000)
    expect(page.locator(".job [data-applied]")).to_have_text("1")
    rejected = page.locator(".job table.rejected")
    expect(rejected.locator('tr[data-row="3"]')).to_contain_text("count")
    expect(rejected.locator('tr[data-row="4"]')).to_contain_text("unknown sku")
    assert stock(service, good)["WH-EAST"] == 12
    assert stock(service, bad) == before_bad, "nothing of the bad row was applied"
    shot(page, "stocktake")


def test_a_form_post_without_the_csrf_token_is_refused_and_changes_nothing(
        manager: BrowserContext, service: Service) -> None:
    sku = SKUS[0]
    before = stock(service, sku)
    page = manager.new_page()
    page.goto(f"/controls?sku={sku}")
    form = {"sku": sku, "location": "WH-EAST", "mode": "delta", "quantity": "5", "reason": "found"}
    refused = page.request.post("/controls/adjust", form=form)  # the session cookie, but no token
    assert refused.status == 403
    forged = page.request.post("/controls/adjust", form={**form, "csrf_token": "forged"})
    assert forged.status == 403
    assert page.request.post("/bulk/stocktake", multipart={
        "file": {"name": "t.csv", "mimeType": "text/csv", "buffer": f"sku,location,count\n{sku},WH-EAST,0\n".encode()},
    }).status == 403
    assert stock(service, sku) == before


def test_the_live_stock_page_resumes_after_its_event_stream_drops(
        manager: BrowserContext, service: Service) -> None:
    sku = SKUS[0]
    page = manager.new_page()
    open_live_stock(page, sku)
    source = "document.querySelector('#live')['htmx-internal-data'].sseEventSource"
    page.evaluate(f"{source}.close()")  # the connection drops...
    total = stock(service, sku)["all"]
    with service.client() as api:  # ...a change is made meanwhile...
        api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 2}
                 ).raise_for_status()
    page.wait_for_timeout(300)
    assert page.inner_text(cell(page, sku, "all")) == str(total), "nothing arrives while disconnected"
    page.evaluate(f"{source}.onerror(new Event('error'))")  # ...and htmx's extension reconnects
    expect(page.locator(cell(page, sku, "all"))).to_have_text(str(total + 2), timeout=5000)
    page.wait_for_selector("#live[data-live=open]")
    with service.client() as api:
        api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 1}
                 ).raise_for_status()
    expect(page.locator(cell(page, sku, "all"))).to_have_text(str(total + 3), timeout=1000)
    assert page.evaluate("window.__sameDocument === true")


def test_the_event_stream_replays_what_was_missed_after_the_last_event_id(service: Service) -> None:
    with httpx.Client(base_url=service.base, timeout=10) as client, service.client() as api:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token.group(1)})
        with client.stream("GET", "/stream?topics=stock") as live:
            assert live.headers["content-type"].startswith("text/event-stream")
            api.post("/api/v1/stock/receipts", json={"sku": SKUS[3], "location": "WH-EAST", "quantity": 1})
            seen = next_event(live)
        assert 'data-sku="LIVE-SHEET-K-NVY"' in seen["data"]
        # disconnected: this change is missed, then asked for again with the last id seen
        api.post("/api/v1/stock/receipts", json={"sku": SKUS[2], "location": "WH-EAST", "quantity": 1})
        with client.stream("GET", "/stream?topics=stock", headers={"Last-Event-ID": seen["id"]}) as resumed:
            replayed = next_event(resumed)
    assert int(replayed["id"]) > int(seen["id"])
    assert replayed["event"].startswith("stock-")
    assert 'data-sku="LIVE-SHEET-Q-NVY"' in replayed["data"]


def next_event(stream: httpx.Response) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in stream.iter_lines():
        if not line and "id" in found:
            return found
        name, _, value = line.partition(": ")
        if name in ("id", "event"):
            found[name] = value
        elif name == "data":
            found["data"] = found.get("data", "") + value
    raise AssertionError("the stream ended without an event")


def test_an_order_is_listed_shown_with_its_allocations_and_fulfilled_from_the_dashboard(
        manager: BrowserContext, service: Service) -> None:
    with service.client() as api:
        order = api.post("/api/v1/orders", json={"channel": "direct", "external_id": "dash-e2e-1",
                                                 "lines": [{"sku": SKUS[1], "quantity": 2}]}).json()
    page = manager.new_page()
    page.goto("/orders?channel=direct&status=reserved")
    page.click(f'tr[data-order="{order["id"]}"] a')
    expect(page.locator("h1 .badge")).to_have_attribute("data-status", "reserved")
    expect(page.locator("table")).to_contain_text("WH-EAST \u00d7 2")
    page.click("button:has-text('Fulfil')")
    expect(page.locator("h1 .badge")).to_have_attribute("data-status", "fulfilled")
    expect(page.locator("[role=status]")).to_have_text("Fulfilled.")
    with service.client() as api:
        assert api.get(f"/api/v1/orders/{order['id']}").json()["status"] == "fulfilled"
    page.goto("/orders")
    shot(page, "orders")


def test_every_page_runs_under_the_content_security_policy_and_cancel_asks_first(
        manager: BrowserContext, service: Service) -> None:
    with service.client() as api:
        order = api.post("/api/v1/orders", json={"channel": "direct", "external_id": "dash-csp-1",
                                                 "lines": [{"sku": SKUS[1], "quantity": 1}]}).json()
    page = manager.new_page()
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text else None)
    page.on("pageerror", lambda error: refused.append(str(error)))
    where: list[str] = []
    page.on("console", lambda message: where.append(f"{page.url}: {message.text[:60]}"))
    for path in ("/stock", "/controls", "/orders", "/partners", "/alerts", "/reports", "/bulk"):
        answer = page.goto(path)
        assert answer is not None and "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
    page.goto(f"/orders/{order['id']}")
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("button:has-text('Cancel order')")
    page.wait_for_timeout(300)
    assert asked == ["Cancel this order? Its reserved units go back to stock."]
    with service.client() as api:
        assert api.get(f"/api/v1/orders/{order['id']}").json()["status"] == "reserved"  # dismissed: nothing sent
    assert refused == [], where
