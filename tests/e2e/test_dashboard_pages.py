"""The reports, alerts and partners pages of the dashboard over HTTP, as a logged-in manager, on the
demo service (partner simulators on, shoppers off); then each page once in a real browser."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Service
from tests.e2e.partner_demo import PARTNERS

PASSWORD = "dashboard-e2e-password"  # the admin's in the session's demo (tests/e2e/conftest.py)
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
SKUS = ("E2E-SHEET-Q-WHT", "E2E-SHEET-K-WHT", "E2E-SHEET-Q-NVY")


def log_in(base: str) -> httpx.Client:
    browser = httpx.Client(base_url=base, timeout=30)
    form = browser.get("/login").text
    answer = browser.post("/login", data={"username": "admin", "password": PASSWORD,
                                          "csrf_token": csrf_of(form)})
    assert answer.status_code == 303, answer.text
    return browser


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page carries a CSRF token"
    return found.group(1)


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout} s for: {what}")


@pytest.fixture(scope="module")
def manager(demo: Service) -> Iterator[httpx.Client]:
    browser = log_in(demo.base)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def sales(demo: Service) -> dict[str, Any]:
    """A product of our own with stock, an order shipped and one on a partner channel backordered."""
    with demo.client() as api:
        wait_for(lambda: api.get("/api/v1/locations").status_code == 200 and api.get("/api/v1/locations").json(),
                 30, "the demo locations")
        api.post("/api/v1/products", json={"sku": "E2E-SHEET", "name": "E2E sheet", "variants": [
            {"sku": sku, "size": sku.split("-")[2], "color": sku.split("-")[3]} for sku in SKUS]}).raise_for_status()
        for sku, quantity in zip(SKUS, (20, 6, 1), strict=True):
            api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": quantity}
                     ).raise_for_status()
        shipped = api.post("/api/v1/orders", json={"channel": "direct", "external_id": "e2e-1",
                                                   "lines": [{"sku": SKUS[0], "quantity": 4}]}).json()
        api.post(f"/api/v1/orders/{shipped['id']}/fulfill").raise_for_status()
        waiting = api.post("/api/v1/orders", json={"channel": "amazon", "external_id": "e2e-2",
                                                   "lines": [{"sku": SKUS[2], "quantity": 3}]}).json()
    assert waiting["status"] == "partially_backordered", waiting
    return {"shipped": shipped, "waiting": waiting}


def test_the_pages_send_a_stranger_to_the_login(demo: Service) -> None:
    with httpx.Client(base_url=demo.base, timeout=10) as stranger:
        for path in ("/reports", "/alerts", "/partners", "/reports/sales.csv"):
            answer = stranger.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), path


def test_the_reports_page_shows_every_report_for_the_chosen_period(manager: httpx.Client, sales: dict[str, Any]) -> None:
    page = manager.get("/reports", params={"days": 7})
    assert page.status_code == 200
    for name in ("sales", "turnover", "cover", "fulfilment", "partners"):
        assert f'id="report-{name}"' in page.text and f'href="/reports/{name}.csv?days=7"' in page.text
    assert 'aria-current="true">7 days' in page.text and "chart.umd" in page.text
    assert SKUS[0] in page.text


def test_a_period_not_offered_is_refused_naming_the_choices(manager: httpx.Client) -> None:
    page = manager.get("/reports", params={"days": "5"})
    assert page.status_code == 400 and "choose one of 7, 30, 90" in page.text
    assert manager.get("/reports/sales.csv", params={"days": "abc"}).status_code == 400
    assert manager.get("/reports/nothing.csv").status_code == 404


def csv_rows(manager: httpx.Client, name: str, days: int = 7) -> list[dict[str, str]]:
    answer = manager.get(f"/reports/{name}.csv", params={"days": days})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert f"threadcount-{name}-{days}d.csv" in answer.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_sales_and_fulfilment_export_as_csv_with_our_orders_in_them(manager: httpx.Client, sales: dict[str, Any]) -> None:
    by_channel = {row["channel"]: row for row in csv_rows(manager, "sales")}
    assert int(by_channel["direct"]["units"]) >= 4 and int(by_channel["amazon"]["units"]) >= 3
    assert sum(int(row["orders"]) for row in csv_rows(manager, "fulfilment")) >= 1


def test_cover_and_turnover_export_with_infinite_cover_for_what_never_sold(manager: httpx.Client, sales: dict[str, Any]) -> None:
    cover = {row["sku"]: row for row in csv_rows(manager, "cover", 30)}
    assert cover[SKUS[0]]["available"] == "16" and cover[SKUS[0]]["sold"] == "4"
    assert float(cover[SKUS[0]]["days_of_cover"]) == pytest.approx(16 / (4 / 30), abs=0.1)
    assert cover[SKUS[1]]["days_of_cover"] == "∞"
    product = next(row for row in csv_rows(manager, "turnover") if row["product"] == "E2E-SHEET")
    assert (product["sold"], product["shipped"]) == ("7", "4")


def alerts_page(manager: httpx.Client) -> str:
    return manager.get("/alerts").text


def page_with_open_alert(manager: httpx.Client, kind: str, key: str) -> str | None:
    html = alerts_page(manager)
    return html if open_alert_id(html, kind, key) is not None else None


def open_alert_id(html: str, kind: str, key: str) -> int | None:
    found = re.search(rf'<tr id="alert-(\d+)" data-alert-kind="{kind}" data-alert-key="{re.escape(key)}"', html)
    return int(found.group(1)) if found else None


def test_a_sale_into_backorder_raises_one_backorder_alert(manager: httpx.Client, sales: dict[str, Any]) -> None:
    html = wait_for(lambda: page_with_open_alert(manager, "backorder", SKUS[2]), 20, "the backorder alert")
    assert html.count(f'data-alert-key="{SKUS[2]}"') == 1


def set_reorder_point(manager: httpx.Client, sku: str, point: int) -> None:
    token = csrf_of(manager.get("/alerts").text)
    answer = manager.post("/controls/reorder", data={"sku": sku, "reorder_point": str(point), "csrf_token": token})
    assert answer.status_code == 200, answer.text


def test_a_reorder_point_above_the_stock_raises_low_stock_and_a_manager_acknowledges_it(
        manager: httpx.Client, sales: dict[str, Any]) -> None:
    set_reorder_point(manager, SKUS[1], 10)
    html = wait_for(lambda: page_with_open_alert(manager, "low_stock", SKUS[1]), 20, "the low-stock alert")
    alert_id = open_alert_id(html, "low_stock", SKUS[1])
    assert manager.post(f"/alerts/{alert_id}/acknowledge").status_code == 403  # no CSRF token: nothing done
    answer = manager.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": csrf_of(html)})
    assert answer.status_code == 200 and "Acknowledged" in answer.text
    after = alerts_page(manager)
    assert open_alert_id(after, "low_stock", SKUS[1]) is None
    assert re.search(rf'data-alert-key="{SKUS[1]}" class="muted">.*?<td>admin</td>', after, re.S)
    again = manager.post(f"/alerts/{alert_id}/acknowledge", data={"csrf_token": csrf_of(html)})
    assert again.status_code == 409 and "already acknowledged by admin" in again.text
    assert manager.post("/alerts/999999/acknowledge", data={"csrf_token": csrf_of(html)}).status_code == 404


def every_partner(html: str) -> str | None:
    return html if all(f'data-partner="{p}"' in html for p in PARTNERS) else None


def test_the_partners_page_shows_each_partners_sync_health(manager: httpx.Client) -> None:
    html = wait_for(lambda: every_partner(manager.get("/partners").text), 30, "every partner on the page")
    for field in ("last-sync", "lag", "error-rate", "circuit", "rate-limit", "pending", "buffer"):
        assert html.count(f'data-field="{field}"') == len(PARTNERS)
    assert html.count(">Retry now</button>") == html.count(">Reconcile now</button>") == len(PARTNERS)
    assert {row["partner"] for row in csv_rows(manager, "partners")} == set(PARTNERS)


def test_partner_actions_need_the_csrf_token_and_a_known_partner(manager: httpx.Client) -> None:
    token = csrf_of(manager.get("/partners").text)
    assert manager.post("/partners/amazon/retry").status_code == 403
    unknown = manager.post("/partners/nobody/reconcile", data={"csrf_token": token})
    assert unknown.status_code == 404 and "no partner &#39;nobody&#39;" in unknown.text


def test_reconcile_now_reports_what_it_checked_and_retry_now_answers(manager: httpx.Client) -> None:
    token = csrf_of(manager.get("/partners").text)
    answer = manager.post("/partners/etsy/reconcile", data={"csrf_token": token})
    assert answer.status_code == 200, answer.text
    assert re.search(r"etsy: reconciled, \d+ listings checked, \d+ corrected", answer.text)
    assert manager.post("/partners/etsy/retry", data={"csrf_token": token}).status_code == 200
    etsy = _partner_card(manager, "etsy")
    assert "circuit" in manager.get("/partners").text and "unavailable" not in etsy
    assert "auto, per listing: floor 0, ceiling 4; sync lag" in etsy
    assert "fixed: 1 unit kept back from every listing" in _partner_card(manager, "shopify")


def _partner_card(manager: httpx.Client, partner_id: str) -> str:
    html = manager.get("/partners").text
    start = html.index(f'data-partner="{partner_id}"')
    return html[start:html.index("</article>", start)]


def test_each_page_renders_in_a_browser_and_a_new_alert_appears_without_a_reload(
        demo: Service, manager: httpx.Client, sales: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900})
            page.goto(f"{demo.base}/login?next=/reports")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/reports")
            page.wait_for_function("Number(document.body.dataset.chartsDrawn || 0) >= 7")
            page.screenshot(path=str(SCREENSHOTS / "reports.png"), full_page=True)
            page.click("a[href='/reports?days=90']")
            page.wait_for_selector("a.current[href='/reports?days=90']")
            page.wait_for_function("Number(document.body.dataset.chartsDrawn || 0) >= 7")

            page.goto(f"{demo.base}/partners")
            page.wait_for_selector("[data-partner=amazon]")
            page.set_viewport_size({"width": 768, "height": 1000})
            page.screenshot(path=str(SCREENSHOTS / "partners.png"), full_page=True)

            page.set_viewport_size({"width": 1366, "height": 900})
            page.goto(f"{demo.base}/alerts")
            page.wait_for_selector("[data-live-badge][data-state=open]")
            set_reorder_point(manager, SKUS[0], 50)  # 16 available: low, while the page is open
            page.wait_for_selector(f"tr[data-alert-kind=low_stock][data-alert-key='{SKUS[0]}']", timeout=15_000)
            page.screenshot(path=str(SCREENSHOTS / "alerts.png"), full_page=True)
        finally:
            browser.close()


# --- secrets at rest: the demo's partner credentials are nowhere in the store, the API or the pages --

SECRET_NAMES = ("secret", "token", "password", "key")


def demo_secrets(data_dir: Path) -> set[str]:
    """The demo partners' secrets as generated (and the simulators' extras, e.g. the SQS keys)."""
    known = json.loads((data_dir / "demo_partner_credentials.json").read_text())
    extras = json.loads((data_dir / "simulators.ports.json").read_text())
    found = [*known.values(), *(where.get("credentials", {}) for where in extras.values())]
    return {str(value) for credentials in found for name, value in credentials.items()
            if any(word in name for word in SECRET_NAMES) and len(str(value)) >= 8}


def sealed_partner_rows(data_dir: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{data_dir / 'threadcount.db'}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM partner_state WHERE credentials LIKE '{\"enc\": \"v1\"%'")
                   .fetchone()[0])


def test_no_partner_secret_is_in_the_database_file_the_partners_api_or_the_partners_page(
        demo: Service, manager: httpx.Client) -> None:
    wait_for(lambda: sealed_partner_rows(demo.data_dir) >= len(PARTNERS), 60, "every partner's state stored")
    secrets = demo_secrets(demo.data_dir)
    assert len(secrets) >= 15
    stored = b"".join(p.read_bytes() for p in demo.data_dir.glob("threadcount.db*"))
    with demo.client() as api:
        answers = [api.get("/api/v1/partners").text,
                   *(api.get(f"/api/v1/partners/{p}/sync-log").text for p in PARTNERS)]
    answers.append(manager.get("/partners").text)
    assert [s for s in secrets if s.encode() in stored] == []
    assert [s for s in secrets if any(s in answer for answer in answers)] == []
