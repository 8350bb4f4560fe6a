"""Partner sync end to end: `python run.py` in demo mode with all six simulators (shoppers off), over
real HTTP and SFTP. Each test leaves the system converged for the next."""

from __future__ import annotations

import json
import os
import signal
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.e2e.conftest import Service, start_service
from tests.e2e.ebay_notification import ebay_notification
from tests.e2e.partner_calls import dead_letters_of as _letters
from tests.e2e.partner_calls import shopify_webhook as _shopify_webhook
from tests.e2e.partner_calls import signed_shopify as _signed_shopify
from tests.e2e.test_dashboard_pages import PASSWORD, csrf_of, log_in

PARTNERS = ("amazon", "etsy", "shopify", "square", "wholesale", "ebay", "boutique")
LATENCIES: list[float] = []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = start_service(tmp_path_factory.mktemp("partners"), demo=True,
                            extra_env={"THREADCOUNT_SHOPPERS": "0", "THREADCOUNT_ADMIN_PASSWORD": PASSWORD})
    yield running
    running.process.stop()


@pytest.fixture(scope="module")
def api(demo: Service) -> Iterator[httpx.Client]:
    with demo.client() as client:
        yield client


@pytest.fixture(scope="module")
def sims(api: httpx.Client) -> dict[str, str]:
    found = wait_for(lambda: _all_listed(api), 60, "every partner listed with its simulator")
    return {p["id"]: p["base_url"] for p in found}


def _all_listed(api: httpx.Client) -> list[dict[str, Any]] | None:
    partners = api.get("/api/v1/partners").json()
    return partners if {p["id"] for p in partners} >= set(PARTNERS) else None


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for: {what}")


def shown(base_url: str) -> dict[str, int]:
    return httpx.get(f"{base_url}/_sim/listings", timeout=10).json()


def desired(api: httpx.Client, partner: str) -> dict[str, int]:
    return {row["sku"]: row["desired"] for row in api.get(f"/api/v1/partners/{partner}/listings").json()}


def converged(api: httpx.Client, sims: dict[str, str], partner: str) -> bool:
    want = desired(api, partner)
    have = shown(sims[partner])
    return bool(want) and all(have.get(sku) == quantity for sku, quantity in want.items())


def all_converged(api: httpx.Client, sims: dict[str, str], timeout: float = 120) -> None:
    for partner in PARTNERS:
        wait_for(lambda p=partner: converged(api, sims, p), timeout, f"{partner} shows what it should",
                 every=0.5)


def available(api: httpx.Client, sku: str) -> int:
    return api.get(f"/api/v1/variants/{sku}/stock").json()["available"]


def a_sku_with_stock(api: httpx.Client, sims: dict[str, str], partner: str, at_least: int = 4) -> str:
    listed = desired(api, partner)
    return next(sku for sku, quantity in sorted(listed.items()) if quantity >= at_least)


def test_every_partner_is_listed_with_its_simulator_and_capabilities(api: httpx.Client, sims: dict[str, str]) -> None:
    partners = {p["id"]: p for p in api.get("/api/v1/partners").json()}
    for partner in PARTNERS:
        assert partners[partner]["base_url"].startswith("http://127.0.0.1:")
        assert "push" in partners[partner]["capabilities"]
        assert httpx.get(f"{sims[partner]}/_sim/listings", timeout=5).status_code == 200


def test_every_simulator_converges_to_what_our_stock_says_it_should_show(api: httpx.Client, sims: dict[str, str]) -> None:
    all_converged(api, sims)
    for row in api.get("/api/v1/partners/amazon/listings?sku=FSHEET-COT-Q-WHT").json():
        stock = api.get("/api/v1/variants/FSHEET-COT-Q-WHT/stock").json()
        east_west = sum(level["available"] for level in stock["locations"]
                        if level["location"] in ("WH-EAST", "WH-WEST"))
        assert row["desired"] == east_west == row["pushed"]


def test_a_shopper_order_on_one_simulator_changes_what_every_other_shows_within_two_seconds(
        api: httpx.Client, sims: dict[str, str]) -> None:
    all_converged(api, sims)
    for round_no in range(12):
        sku = a_sku_with_stock(api, sims, "amazon", at_least=3 + round_no % 3)
        before = {p: desired(api, p)[sku] for p in ("amazon", "etsy")}
        started = time.monotonic()
        answer = httpx.post(f"{sims['shopify']}/_sim/orders", json={"sku": sku, "quantity": 1}, timeout=10)
        assert answer.status_code == 200, answer.text
        for partner in ("amazon", "etsy"):
            wait_for(lambda p=partner, s=sku, b=before: shown(sims[p]).get(s) == b[p] - 1, 2.0,
                     f"{partner} shows {sku} one lower")
        LATENCIES.append(time.monotonic() - started)
    p50 = statistics.median(LATENCIES)
    p99 = max(LATENCIES)
    print(f"\npropagation shopper order -> every other partner shows it: p50 {p50 * 1000:.0f} ms, "
          f"max {p99 * 1000:.0f} ms over {len(LATENCIES)} orders")
    assert p99 < 2.0


def _ingress(demo: Service) -> str:
    return f"http://127.0.0.1:{demo.env['THREADCOUNT_INGRESS_PORT']}"


def test_twenty_duplicate_deliveries_of_one_webhook_change_stock_once(demo: Service, api: httpx.Client,
                                                                        sims: dict[str, str]) -> None:
    sku = a_sku_with_stock(api, sims, "shopify", at_least=3)
    before = available(api, sku)
    body, headers = _shopify_webhook(demo, 990001, sku, 2)
    url = f"{_ingress(demo)}/webhooks/shopify"
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: httpx.post(url, content=body, headers=headers, timeout=20), range(20)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    assert available(api, sku) == before - 2
    orders = api.get("/api/v1/orders", params={"channel": "shopify", "external_id": "990001"}).json()
    assert len(orders) == 1 and orders[0]["status"] == "reserved"


def test_a_tampered_or_unsigned_webhook_is_refused_with_401_and_changes_nothing(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    sku = a_sku_with_stock(api, sims, "shopify", at_least=2)
    before = available(api, sku)
    body, headers = _shopify_webhook(demo, 990002, sku, 1)
    url = f"{_ingress(demo)}/webhooks/shopify"
    tampered = body.replace(b'"quantity": 1', b'"quantity": 9')
    assert httpx.post(url, content=tampered, headers=headers, timeout=10).status_code == 401
    unsigned = {k: v for k, v in headers.items() if k != "X-Shopify-Hmac-Sha256"}
    answer = httpx.post(url, content=body, headers=unsigned, timeout=10)
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "bad_signature"
    replayed = {**headers, "X-Shopify-Triggered-At": "2026-01-15T10:00:00Z"}   # signed, but long past
    assert httpx.post(url, content=body, headers=replayed, timeout=10).status_code == 401
    log = api.get("/api/v1/partners/shopify/sync-log", params={"limit": 20}).json()
    assert sum(1 for row in log if row["kind"] == "webhook" and not row["ok"]) >= 3
    assert httpx.post(f"{_ingress(demo)}/webhooks/nobody", content=body, headers=headers,
                      timeout=10).status_code == 404
    assert available(api, sku) == before
    assert api.get("/api/v1/orders", params={"channel": "shopify", "external_id": "990002"}).json() == []


def test_partner_orders_follow_the_partners_lifecycle(api: httpx.Client, sims: dict[str, str]) -> None:
    sku = a_sku_with_stock(api, sims, "shopify", at_least=3)
    placed = httpx.post(f"{sims['shopify']}/_sim/orders", json={"sku": sku, "quantity": 1}, timeout=10).json()
    order = wait_for(lambda: _order(api, "shopify", placed["order_id"]), 10, "the shopify order here")
    assert order["status"] == "reserved"
    httpx.post(f"{sims['shopify']}/_sim/orders/{placed['order_id']}/ship", timeout=10).raise_for_status()
    wait_for(lambda: (_order(api, "shopify", placed["order_id"]) or {}).get("status") == "fulfilled", 10,
             "the shipped order fulfilled here")
    sale_sku = a_sku_with_stock(api, sims, "square", at_least=1)
    sale = httpx.post(f"{sims['square']}/_sim/orders", json={"sku": sale_sku, "quantity": 1}, timeout=10).json()
    wait_for(lambda: (_order(api, "square", sale["order_id"]) or {}).get("status") == "fulfilled", 10,
             "the in-store sale reserved and fulfilled at once")


def _order(api: httpx.Client, channel: str, external_id: str) -> dict[str, Any] | None:
    found = api.get("/api/v1/orders", params={"channel": channel, "external_id": external_id}).json()
    return found[0] if found else None


def test_an_ebay_shopper_order_reaches_us_and_a_stock_change_reaches_ebay_within_two_seconds(
        api: httpx.Client, sims: dict[str, str]) -> None:
    all_converged(api, sims)
    sku = a_sku_with_stock(api, sims, "ebay", at_least=3)
    before = available(api, sku)
    placed = httpx.post(f"{sims['ebay']}/_sim/orders", json={"sku": sku, "quantity": 2}, timeout=10).json()
    order = wait_for(lambda: _order(api, "ebay", placed["order_id"]), 5, "the eBay order here (notification)")
    assert order["status"] == "reserved" and available(api, sku) == before - 2
    wait_for(lambda: converged(api, sims, "ebay"), 10, "eBay shows what it should after its own sale")
    want = desired(api, "ebay")[sku]
    started = time.monotonic()
    api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 5}).raise_for_status()
    wait_for(lambda: shown(sims["ebay"]).get(sku) == want + 5, 2.0, f"eBay shows {sku} five higher")
    print(f"\nstock receipt -> eBay shows it: {(time.monotonic() - started) * 1000:.0f} ms")
    httpx.post(f"{sims['ebay']}/_sim/orders/{placed['order_id']}/ship", timeout=10).raise_for_status()
    wait_for(lambda: (_order(api, "ebay", placed["order_id"]) or {}).get("status") == "fulfilled", 60,
             "the shipped eBay order fulfilled here (GetOrders polling)", every=0.5)


def test_a_stale_or_wrongly_signed_ebay_notification_is_refused_with_401_and_changes_nothing(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    sku = a_sku_with_stock(api, sims, "ebay", at_least=1)
    before = available(api, sku)
    url = f"{_ingress(demo)}/webhooks/ebay"
    headers = {"Content-Type": "text/xml; charset=utf-8",
               "SOAPAction": '"http://developer.ebay.com/notification/FixedPriceTransaction"'}
    for body in (ebay_notification(demo.data_dir, "99-99999-00001", sku, time.time() - 700),
                 ebay_notification(demo.data_dir, "99-99999-00001", sku, time.time(), cert="PRD-not-ours")):
        answer = httpx.post(url, content=body, headers=headers, timeout=10)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "bad_signature"
    assert available(api, sku) == before
    assert _order(api, "ebay", "99-99999-00001") is None


def test_a_wholesale_purchase_order_becomes_an_order_and_gets_a_997(api: httpx.Client, sims: dict[str, str]) -> None:
    sku = a_sku_with_stock(api, sims, "wholesale", at_least=2)
    placed = httpx.post(f"{sims['wholesale']}/_sim/orders", json={"sku": sku, "quantity": 2}, timeout=10).json()
    wait_for(lambda: _order(api, "wholesale", placed["order_id"]), 20, "the 850 taken as an order", every=0.2)
    wait_for(lambda: httpx.get(f"{sims['wholesale']}/_sim/stats").json().get("acks_received", 0) >= 1, 20,
             "a 997 received by the distributor", every=0.2)


def test_a_wholesale_purchase_order_is_answered_line_by_line_with_an_855_the_distributor_accepts(
        api: httpx.Client, sims: dict[str, str]) -> None:
    sku = a_sku_with_stock(api, sims, "wholesale", at_least=2)
    stats = f"{sims['wholesale']}/_sim/stats"
    before = httpx.get(stats).json().get("po_acks_received", 0)
    placed = httpx.post(f"{sims['wholesale']}/_sim/orders", json={"sku": sku, "quantity": 1}, timeout=10).json()
    wait_for(lambda: _order(api, "wholesale", placed["order_id"]), 20, "the 850 taken as an order", every=0.2)
    wait_for(lambda: httpx.get(stats).json().get("po_acks_received", 0) > before, 20,
             "an 855 received by the distributor", every=0.2)
    assert httpx.get(stats).json().get("edi_errors", 0) == 0


def test_a_hand_edit_at_the_partner_is_found_and_corrected_by_reconciliation(
        api: httpx.Client, sims: dict[str, str]) -> None:
    all_converged(api, sims)
    sku = a_sku_with_stock(api, sims, "etsy", at_least=1)
    want = desired(api, "etsy")[sku]
    httpx.put(f"{sims['etsy']}/_sim/listings", json={sku: want + 7}, timeout=10).raise_for_status()
    result = api.post("/api/v1/partners/etsy/reconcile").json()
    assert result["corrected"] >= 1 and result["checked"] >= 1
    wait_for(lambda: shown(sims["etsy"]).get(sku) == want, 10, "etsy shows the desired quantity again")
    log = api.get("/api/v1/partners/etsy/sync-log").json()
    assert any(row["kind"] == "reconcile" and sku in row["message"] for row in log)


def test_a_failing_partner_does_not_slow_the_others_and_converges_after_it_recovers(
        api: httpx.Client, sims: dict[str, str]) -> None:
    all_converged(api, sims)
    httpx.post(f"{sims['etsy']}/_sim/faults", json={"error_rate": 1.0}, timeout=5).raise_for_status()
    try:
        failing_since = time.monotonic()
        while time.monotonic() - failing_since < 30:
            sku = a_sku_with_stock(api, sims, "amazon", at_least=2)
            before = desired(api, "amazon")[sku]
            api.post("/api/v1/orders", json={"channel": "direct", "external_id": f"fail-{uuid.uuid4()}",
                                             "lines": [{"sku": sku, "quantity": 1}]}).raise_for_status()
            wait_for(lambda s=sku, b=before: shown(sims["amazon"]).get(s) == b - 1, 2.0,
                     "amazon still updated within 2 s while etsy fails")
        status = {p["id"]: p for p in api.get("/api/v1/partners").json()}["etsy"]
        assert status["sync"].get("errors_recent", 0) > 0
    finally:
        httpx.post(f"{sims['etsy']}/_sim/faults", json={"error_rate": 0.0}, timeout=5).raise_for_status()
    api.post("/api/v1/partners/etsy/retry")
    wait_for(lambda: converged(api, sims, "etsy"), 60, "etsy converges after it recovers", every=0.5)


def test_a_partner_that_is_down_catches_up_with_what_changed_meanwhile_once_it_is_back(
        api: httpx.Client, sims: dict[str, str]) -> None:
    all_converged(api, sims)
    sku = sorted(desired(api, "square"))[0]
    before = desired(api, "square")[sku]
    httpx.post(f"{sims['square']}/_sim/faults", json={"down": True}, timeout=5).raise_for_status()
    try:
        api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "STORE-SOHO", "quantity": 3}
                 ).raise_for_status()
        wait_for(lambda: desired(api, "square")[sku] == before + 3, 5, "square's desired quantity moves")
        time.sleep(5)
        assert shown(sims["square"]).get(sku) != before + 3  # it is down: nobody told it
    finally:
        httpx.post(f"{sims['square']}/_sim/faults", json={"down": False}, timeout=5).raise_for_status()
    wait_for(lambda: shown(sims["square"]).get(sku) == before + 3, 60, "square catches up", every=0.5)


def test_a_connector_actor_killed_mid_push_resumes_without_a_lost_or_doubled_change(
        api: httpx.Client, sims: dict[str, str]) -> None:
    """Amazon answers slowly, so pushes are in flight when its actor is SIGKILLed; an Amazon order
    waits in its queue meanwhile. After Ray restarts the actor, every listing shows what it should
    and the order was taken exactly once."""
    all_converged(api, sims)
    actor_pid = _actor_pid(api, "amazon")
    httpx.post(f"{sims['amazon']}/_sim/faults", json={"latency_ms": 400}, timeout=5).raise_for_status()
    try:
        skus = [sku for sku, q in sorted(desired(api, "amazon").items()) if q >= 3][:12]
        for sku in skus:
            api.post("/api/v1/orders", json={"channel": "direct", "external_id": f"kill-{uuid.uuid4()}",
                                             "lines": [{"sku": sku, "quantity": 1}]}).raise_for_status()
        wait_for(lambda: _sync(api, "amazon").get("pending", 0) > 0, 10, "amazon pushes in flight")
        sold = skus[-1]
        before = available(api, sold)
        placed = httpx.post(f"{sims['amazon']}/_sim/orders", json={"sku": sold, "quantity": 1},
                            timeout=10).json()
        assert actor_pid is not None
        os.kill(actor_pid, signal.SIGKILL)
    finally:
        httpx.post(f"{sims['amazon']}/_sim/faults", json={"latency_ms": 0}, timeout=5).raise_for_status()
    wait_for(lambda: _actor_pid(api, "amazon") not in (None, actor_pid), 60, "the amazon actor restarted",
             every=0.5)
    wait_for(lambda: converged(api, sims, "amazon"), 60, "amazon converges after the restart", every=0.5)
    wait_for(lambda: _order(api, "amazon", placed["order_id"]), 30, "the queued amazon order taken", every=0.5)
    time.sleep(3)  # a second delivery of the same notification would land by now
    assert len(api.get("/api/v1/orders", params={"channel": "amazon",
                                                "external_id": placed["order_id"]}).json()) == 1
    assert available(api, sold) == before - 1


def _sync(api: httpx.Client, partner: str) -> dict[str, Any]:
    return {p["id"]: p for p in api.get("/api/v1/partners").json()}[partner]["sync"]


def _actor_pid(api: httpx.Client, partner: str) -> int | None:
    for row in api.get("/api/v1/partners").json():
        if row["id"] == partner:
            return row["sync"].get("pid")
    return None


def test_stock_changes_still_reach_the_partners_after_the_event_hub_is_killed(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    """Sync is level-triggered: with the EventHub SIGKILLed, whatever events were in flight may be
    lost; the listeners see the restarted hub's new sequence, re-read the store and converge."""
    all_converged(api, sims)
    hubs = [p for p in psutil.Process(demo.process.pid).children(recursive=True)
            if p.cmdline() and p.cmdline()[0].startswith("ray::EventHub")]
    assert len(hubs) == 1
    skus = [sku for sku, q in sorted(desired(api, "amazon").items()) if q >= 2][-5:]
    before = {sku: desired(api, "amazon")[sku] for sku in skus}
    hubs[0].kill()
    for sku in skus:
        api.post("/api/v1/orders", json={"channel": "direct", "external_id": f"hub-{uuid.uuid4()}",
                                         "lines": [{"sku": sku, "quantity": 1}]}).raise_for_status()
    for sku in skus:
        wait_for(lambda s=sku: shown(sims["amazon"]).get(s) == before[s] - 1, 30,
                 f"amazon shows {sku} one lower after the hub restarted", every=0.2)
    all_converged(api, sims, timeout=60)


def test_no_connector_ever_exceeded_its_partners_rate_limit(sims: dict[str, str]) -> None:
    for partner, base_url in sims.items():
        stats = httpx.get(f"{base_url}/_sim/stats", timeout=5).json()
        over = {key: count for key, count in stats.items() if key.startswith("rate_limited")}
        assert stats.get("rate_limited", 0) == 0, (partner, over)


def test_the_ledger_still_folds_to_the_stock(demo: Service) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[2] / "run.py"), "check"],
                          env=demo.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_partner_order_for_stock_that_is_gone_is_rejected_cancelled_at_the_partner_and_raises_an_alert(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    sku = a_sku_with_stock(api, sims, "shopify", at_least=1)
    too_many = available(api, sku) + 5
    placed = httpx.post(f"{sims['shopify']}/_sim/orders", json={"sku": sku, "quantity": too_many},
                        timeout=10).json()
    order = wait_for(lambda: _order(api, "shopify", placed["order_id"]), 10, "the shopify order here")
    assert order["status"] == "rejected"
    alerts = wait_for(lambda: [a for a in api.get("/api/v1/alerts").json()
                               if a["kind"] == "oversell" and placed["order_id"] in a["key"]], 10,
                      "an oversell alert")
    assert len(alerts) == 1
    secrets = json.loads((demo.data_dir / "demo_partner_credentials.json").read_text())["shopify"]
    wait_for(lambda: httpx.get(f"{sims['shopify']}/admin/api/2025-10/orders/{placed['order_id']}.json",
                               headers={"X-Shopify-Access-Token": secrets["access_token"]},
                               timeout=5).json()["order"].get("cancelled_at"), 10,
             "the order cancelled at Shopify", every=1.0)


def test_a_shopper_order_at_the_boutique_described_only_by_config_reaches_threadcount(
        api: httpx.Client, sims: dict[str, str]) -> None:
    sku = a_sku_with_stock(api, sims, "boutique", at_least=2)
    placed = httpx.post(f"{sims['boutique']}/_sim/orders", json={"sku": sku, "quantity": 1}, timeout=10).json()
    order = wait_for(lambda: _order(api, "boutique", placed["order_id"]), 10, "the boutique's order here")
    assert order["status"] == "reserved"
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [(sku, 1)]


def test_a_stock_change_reaches_the_boutique_within_two_seconds(api: httpx.Client, sims: dict[str, str]) -> None:
    wait_for(lambda: converged(api, sims, "boutique"), 60, "the boutique shows what it should")
    sku = next(s for s, quantity in sorted(desired(api, "boutique").items()) if quantity <= 15)
    before = desired(api, "boutique")[sku]
    started = time.monotonic()
    api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 3}).raise_for_status()
    wait_for(lambda: shown(sims["boutique"]).get(sku) == before + 3, 2.0, "the boutique shows three more")
    print(f"\nstock change -> boutique shows it: {(time.monotonic() - started) * 1000:.0f} ms")


def test_a_signed_delivery_that_cannot_be_read_gets_a_400_naming_it_and_no_internals(demo: Service) -> None:
    for body in (b'{"id": 1, "line_items": 5}', b"{not json"):
        answer = httpx.post(f"{_ingress(demo)}/webhooks/shopify", content=body, headers=_signed_shopify(demo, body))
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed_delivery"), answer.text
        assert "Traceback" not in answer.text and "File " not in answer.text


def test_an_order_over_the_cap_is_a_dead_letter_with_an_alert_and_a_retry_and_blocks_nothing(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    sku = a_sku_with_stock(api, sims, "shopify", at_least=2)
    body, headers = _shopify_webhook(demo, 990010, sku, 10**12)
    answer = httpx.post(f"{_ingress(demo)}/webhooks/shopify", content=body, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    (letter,) = _letters(api, "shopify", "990010")
    assert "quantity 1000000000000" in letter["reason"] and letter["attempts"] == 1
    assert [a for a in api.get("/api/v1/alerts").json() if (a["kind"], a["key"]) == ("dead_letter", "shopify:990010")]
    assert api.post(f"/api/v1/partners/shopify/dead-letters/{letter['id']}/retry").json()["status"] == "open"
    assert api.post("/api/v1/partners/shopify/dead-letters/999999/retry").status_code == 404
    body, headers = _shopify_webhook(demo, 990011, sku, 1)
    assert httpx.post(f"{_ingress(demo)}/webhooks/shopify", content=body, headers=headers, timeout=10).status_code == 200
    assert (_order(api, "shopify", "990011") or {}).get("status") == "reserved"
    assert "/api/v1/partners/{id}/dead-letters/{letter_id}/retry" in api.get("/api/v1/openapi.json").json()["paths"]


def test_a_boutique_order_with_a_line_without_a_sku_is_a_dead_letter_on_the_partners_page_and_the_feed_moves_on(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    bad = httpx.post(f"{sims['boutique']}/_sim/boutique/orders", json={"items": [{"qty": 1, "price": "9.00"}]},
                     timeout=10).json()
    letter = wait_for(lambda: _letters(api, "boutique", bad["order_id"]), 10, "the boutique's dead letter")[0]
    sku = a_sku_with_stock(api, sims, "boutique", at_least=2)
    good = httpx.post(f"{sims['boutique']}/_sim/orders", json={"sku": sku, "quantity": 1}, timeout=10).json()
    wait_for(lambda: _order(api, "boutique", good["order_id"]), 10, "the next boutique order taken")
    manager = log_in(demo.base)
    html, retry_url = manager.get("/partners").text, f"/partners/boutique/dead-letters/{letter['id']}/retry"
    assert f'data-dead-letter="{letter["id"]}"' in html and ">Retry order</button>" in html
    assert manager.post(retry_url).status_code == 403   # no CSRF token
    answer = manager.post(retry_url, data={"csrf_token": csrf_of(html)})
    assert answer.status_code == 200 and "still cannot apply" in answer.text
