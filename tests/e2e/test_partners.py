"""Partner sync end to end: `python run.py` in demo mode with all five simulators (shoppers off), over
real HTTP and SFTP. Each test leaves the system converged for the next."""

from __future__ import annotations

import base64
import hashlib
import hmac
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

import boto3
import httpx
import psutil
import pytest

from tests.e2e.conftest import Service, start_service

PARTNERS = ("amazon", "etsy", "shopify", "square", "wholesale")
LATENCIES: list[float] = []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = start_service(tmp_path_factory.mktemp("partners"), demo=True,
                            extra_env={"THREADCOUNT_SHOPPERS": "0"})
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


def _shopify_webhook(demo: Service, order_id: int, sku: str, quantity: int) -> tuple[bytes, dict[str, str]]:
    secrets = json.loads((demo.data_dir / "demo_partner_credentials.json").read_text())["shopify"]
    body = json.dumps({
        "id": order_id, "name": f"#{order_id}", "created_at": "2026-11-27T10:00:00Z",
        "updated_at": "2026-11-27T10:00:00Z", "cancelled_at": None, "fulfillment_status": None,
        "financial_status": "paid",
        "line_items": [{"id": order_id * 10, "sku": sku, "quantity": quantity, "variant_id": 1}],
    }).encode()
    signature = base64.b64encode(hmac.new(secrets["app_secret"].encode(), body, hashlib.sha256).digest())
    return body, {"X-Shopify-Hmac-Sha256": signature.decode(), "X-Shopify-Topic": "orders/create",
                  "X-Shopify-Webhook-Id": str(uuid.uuid4()), "X-Shopify-Shop-Domain": secrets["shop_domain"],
                  "X-Shopify-Triggered-At": "2026-11-27T10:00:00Z", "Content-Type": "application/json"}


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


def test_an_amazon_order_arrives_through_the_sellers_sqs_queue_and_its_message_is_deleted(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    # The demo's queue lives in moto's server, which the simulators process started.
    where = json.loads((demo.data_dir / "simulators.ports.json").read_text())["amazon"]
    queue = boto3.client("sqs", region_name=where["options"]["sqs_region"],
                         endpoint_url=where["options"]["sqs_endpoint_url"], **where["credentials"])
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]

    def waiting() -> list[int]:
        found = queue.get_queue_attributes(QueueUrl=where["options"]["queue_url"], AttributeNames=names)
        return [int(found["Attributes"][name]) for name in names]

    sku = a_sku_with_stock(api, sims, "amazon", at_least=2)
    placed = httpx.post(f"{sims['amazon']}/_sim/orders", json={"sku": sku, "quantity": 1}, timeout=10).json()
    wait_for(lambda: _order(api, "amazon", placed["order_id"]), 10, "the amazon order here")
    stats = httpx.get(f"{sims['amazon']}/_sim/stats", timeout=5).json()
    assert stats["calls:createSubscription"] == 1 and stats["notifications_delivered"] >= 1
    wait_for(lambda: waiting() == [0, 0], 10, "its SQS message deleted once the order committed")


def test_a_wholesale_purchase_order_becomes_an_order_and_gets_a_997(api: httpx.Client, sims: dict[str, str]) -> None:
    sku = a_sku_with_stock(api, sims, "wholesale", at_least=2)
    placed = httpx.post(f"{sims['wholesale']}/_sim/orders", json={"sku": sku, "quantity": 2}, timeout=10).json()
    wait_for(lambda: _order(api, "wholesale", placed["order_id"]), 20, "the 850 taken as an order", every=0.2)
    wait_for(lambda: httpx.get(f"{sims['wholesale']}/_sim/stats").json().get("acks_received", 0) >= 1, 20,
             "a 997 received by the distributor", every=0.2)


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
