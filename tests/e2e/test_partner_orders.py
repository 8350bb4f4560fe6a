"""Partner orders end to end, in the demo with every simulator (shoppers off): webhooks and polling,
the orders' lifecycle, eBay notifications, wholesale purchase orders, the boutique described by
configuration alone, oversells and dead letters. Each test leaves the system converged for the next."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import httpx
import pytest

from tests.e2e import partner_demo as demo_
from tests.e2e.conftest import Service
from tests.e2e.ebay_notification import ebay_notification
from tests.e2e.partner_calls import dead_letters_of as _letters
from tests.e2e.partner_calls import shopify_webhook as _shopify_webhook
from tests.e2e.partner_calls import signed_shopify as _signed_shopify
from tests.e2e.test_dashboard_pages import csrf_of, log_in


@pytest.fixture(scope="module", autouse=True)
def converged_first(api: httpx.Client, sims: dict[str, str]) -> None:
    """Every partner shows what it should before the first order: the tests pick SKUs the partners list."""
    demo_.all_converged(api, sims)


def _ingress(demo: Service) -> str:
    return f"http://127.0.0.1:{demo.env['THREADCOUNT_INGRESS_PORT']}"


def test_twenty_duplicate_deliveries_of_one_webhook_change_stock_once(demo: Service, api: httpx.Client,
                                                                        sims: dict[str, str]) -> None:
    sku = demo_.a_sku_with_stock(api, "shopify", at_least=3)
    before = demo_.available(api, sku)
    body, headers = _shopify_webhook(demo, 990001, sku, 2)
    url = f"{_ingress(demo)}/webhooks/shopify"
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: httpx.post(url, content=body, headers=headers, timeout=20), range(20)))
    assert all(a.status_code == 200 for a in answers), [a.text for a in answers if a.status_code != 200]
    assert demo_.available(api, sku) == before - 2
    orders = api.get("/api/v1/orders", params={"channel": "shopify", "external_id": "990001"}).json()
    assert len(orders) == 1 and orders[0]["status"] == "reserved"


def test_a_tampered_or_unsigned_webhook_is_refused_with_401_and_changes_nothing(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    sku = demo_.a_sku_with_stock(api, "shopify", at_least=2)
    before = demo_.available(api, sku)
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
    assert demo_.available(api, sku) == before
    assert api.get("/api/v1/orders", params={"channel": "shopify", "external_id": "990002"}).json() == []


def test_partner_orders_follow_the_partners_lifecycle(api: httpx.Client, sims: dict[str, str]) -> None:
    sku = demo_.a_sku_with_stock(api, "shopify", at_least=3)
    placed = httpx.post(f"{sims['shopify']}/_sim/orders", json={"sku": sku, "quantity": 1}, timeout=10).json()
    order = demo_.wait_for(lambda: demo_.order_of(api, "shopify", placed["order_id"]), 10, "the shopify order here")
    assert order["status"] == "reserved"
    httpx.post(f"{sims['shopify']}/_sim/orders/{placed['order_id']}/ship", timeout=10).raise_for_status()
    demo_.wait_for(lambda: (demo_.order_of(api, "shopify", placed["order_id"]) or {}).get("status") == "fulfilled", 10,
             "the shipped order fulfilled here")
    sale_sku = demo_.a_sku_with_stock(api, "square", at_least=1)
    sale = httpx.post(f"{sims['square']}/_sim/orders", json={"sku": sale_sku, "quantity": 1}, timeout=10).json()
    demo_.wait_for(lambda: (demo_.order_of(api, "square", sale["order_id"]) or {}).get("status") == "fulfilled", 10,
             "the in-store sale reserved and fulfilled at once")


def test_an_ebay_shopper_order_reaches_us_and_a_stock_change_reaches_ebay_within_seconds(
        api: httpx.Client, sims: dict[str, str]) -> None:
    demo_.all_converged(api, sims)
    sku = demo_.a_sku_with_stock(api, "ebay", at_least=3)
    before, listed = demo_.available(api, sku), demo_.desired(api, "ebay")[sku]
    placed = httpx.post(f"{sims['ebay']}/_sim/orders", json={"sku": sku, "quantity": 2}, timeout=10).json()
    order = demo_.wait_for(lambda: demo_.order_of(api, "ebay", placed["order_id"]), 5, "the eBay order here (notification)")
    assert order["status"] == "reserved" and demo_.available(api, sku) == before - 2
    # the sale must have reached what eBay should show before `want` is read: read at once, it could
    # still be the quantity from before the sale (and the receipt would then show as 3 more, not 5)
    want = listed - 2
    demo_.wait_for(lambda: demo_.desired(api, "ebay")[sku] == want and demo_.converged(api, sims, "ebay"), 10,
                   "eBay shows what it should after its own sale")
    started = time.monotonic()
    api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 5}).raise_for_status()
    # typically 50-800 ms (the benchmark measures the latency; its p99 is under 0.6 s); on a 2-core machine
    # loaded with the rest of the suite it has taken over 5 s, so this bound only catches a change that is lost
    try:
        demo_.wait_for(lambda: demo_.shown(sims["ebay"]).get(sku) == want + 5, 15.0, f"eBay shows {sku} five higher")
    except AssertionError:
        _explain_ebay(api, sims, sku, want)
        raise
    print(f"\nstock receipt -> eBay shows it: {(time.monotonic() - started) * 1000:.0f} ms")
    httpx.post(f"{sims['ebay']}/_sim/orders/{placed['order_id']}/ship", timeout=10).raise_for_status()
    demo_.wait_for(lambda: (demo_.order_of(api, "ebay", placed["order_id"]) or {}).get("status") == "fulfilled", 60,
             "the shipped eBay order fulfilled here (GetOrders polling)", every=0.5)


def _explain_ebay(api: httpx.Client, sims: dict[str, str], sku: str, want: int) -> None:
    """What the partner showed and was told when a change did not reach it in time."""
    listing = api.get("/api/v1/partners/ebay/listings", params={"sku": sku}).json()
    status = [p for p in api.get("/api/v1/partners").json() if p["id"] == "ebay"]
    log = api.get("/api/v1/partners/ebay/sync-log").json()
    print(f"\nwanted {want + 5}; eBay shows {demo_.shown(sims['ebay']).get(sku)}; listing {listing}; "
          f"status {status}; sync log {log[:15] if isinstance(log, list) else log}")


def test_a_stale_or_wrongly_signed_ebay_notification_is_refused_with_401_and_changes_nothing(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    sku = demo_.a_sku_with_stock(api, "ebay", at_least=1)
    before = demo_.available(api, sku)
    url = f"{_ingress(demo)}/webhooks/ebay"
    headers = {"Content-Type": "text/xml; charset=utf-8",
               "SOAPAction": '"http://developer.ebay.com/notification/FixedPriceTransaction"'}
    for body in (ebay_notification(demo.data_dir, "99-99999-00001", sku, time.time() - 700),
                 ebay_notification(demo.data_dir, "99-99999-00001", sku, time.time(), cert="PRD-not-ours")):
        answer = httpx.post(url, content=body, headers=headers, timeout=10)
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "bad_signature"
    assert demo_.available(api, sku) == before
    assert demo_.order_of(api, "ebay", "99-99999-00001") is None


def test_a_wholesale_purchase_order_becomes_an_order_and_gets_a_997(api: httpx.Client, sims: dict[str, str]) -> None:
    sku = demo_.a_sku_with_stock(api, "wholesale", at_least=2)
    placed = httpx.post(f"{sims['wholesale']}/_sim/orders", json={"sku": sku, "quantity": 2}, timeout=10).json()
    demo_.wait_for(lambda: demo_.order_of(api, "wholesale", placed["order_id"]), 20, "the 850 taken as an order", every=0.2)
    demo_.wait_for(lambda: httpx.get(f"{sims['wholesale']}/_sim/stats").json().get("acks_received", 0) >= 1, 20,
             "a 997 received by the distributor", every=0.2)


def test_a_wholesale_purchase_order_is_answered_line_by_line_with_an_855_the_distributor_accepts(
        api: httpx.Client, sims: dict[str, str]) -> None:
    sku = demo_.a_sku_with_stock(api, "wholesale", at_least=2)
    stats = f"{sims['wholesale']}/_sim/stats"
    before = httpx.get(stats).json().get("po_acks_received", 0)
    placed = httpx.post(f"{sims['wholesale']}/_sim/orders", json={"sku": sku, "quantity": 1}, timeout=10).json()
    demo_.wait_for(lambda: demo_.order_of(api, "wholesale", placed["order_id"]), 20, "the 850 taken as an order", every=0.2)
    demo_.wait_for(lambda: httpx.get(stats).json().get("po_acks_received", 0) > before, 20,
             "an 855 received by the distributor", every=0.2)
    assert httpx.get(stats).json().get("edi_errors", 0) == 0


def test_a_partner_order_for_stock_that_is_gone_is_rejected_cancelled_at_the_partner_and_raises_an_alert(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    sku = demo_.a_sku_with_stock(api, "shopify", at_least=1)
    too_many = demo_.available(api, sku) + 5
    placed = httpx.post(f"{sims['shopify']}/_sim/orders", json={"sku": sku, "quantity": too_many},
                        timeout=10).json()
    order = demo_.wait_for(lambda: demo_.order_of(api, "shopify", placed["order_id"]), 10, "the shopify order here")
    assert order["status"] == "rejected"
    alerts = demo_.wait_for(lambda: [a for a in api.get("/api/v1/alerts").json()
                               if a["kind"] == "oversell" and placed["order_id"] in a["key"]], 10,
                      "an oversell alert")
    assert len(alerts) == 1
    secrets = json.loads((demo.data_dir / "demo_partner_credentials.json").read_text())["shopify"]
    demo_.wait_for(lambda: httpx.get(f"{sims['shopify']}/admin/api/2025-10/orders/{placed['order_id']}.json",
                               headers={"X-Shopify-Access-Token": secrets["access_token"]},
                               timeout=5).json()["order"].get("cancelled_at"), 10,
             "the order cancelled at Shopify", every=1.0)


def test_a_shopper_order_at_the_boutique_described_only_by_config_reaches_threadcount(
        api: httpx.Client, sims: dict[str, str]) -> None:
    sku = demo_.a_sku_with_stock(api, "boutique", at_least=2)
    placed = httpx.post(f"{sims['boutique']}/_sim/orders", json={"sku": sku, "quantity": 1}, timeout=10).json()
    order = demo_.wait_for(lambda: demo_.order_of(api, "boutique", placed["order_id"]), 10, "the boutique's order here")
    assert order["status"] == "reserved"
    assert [(line["sku"], line["quantity"]) for line in order["lines"]] == [(sku, 1)]


def test_a_stock_change_reaches_the_boutique_within_two_seconds(api: httpx.Client, sims: dict[str, str]) -> None:
    demo_.wait_for(lambda: demo_.converged(api, sims, "boutique"), 60, "the boutique shows what it should")
    sku = next(s for s, quantity in sorted(demo_.desired(api, "boutique").items()) if quantity <= 15)
    before = demo_.desired(api, "boutique")[sku]
    started = time.monotonic()
    api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 3}).raise_for_status()
    demo_.wait_for(lambda: demo_.shown(sims["boutique"]).get(sku) == before + 3, 2.0, "the boutique shows three more")
    print(f"\nstock change -> boutique shows it: {(time.monotonic() - started) * 1000:.0f} ms")


def test_a_signed_delivery_that_cannot_be_read_gets_a_400_naming_it_and_no_internals(demo: Service) -> None:
    for body in (b'{"id": 1, "line_items": 5}', b"{not json"):
        answer = httpx.post(f"{_ingress(demo)}/webhooks/shopify", content=body, headers=_signed_shopify(demo, body))
        assert (answer.status_code, answer.json()["error"]["code"]) == (400, "malformed_delivery"), answer.text
        assert "Traceback" not in answer.text and "File " not in answer.text


def test_an_order_over_the_cap_is_a_dead_letter_with_an_alert_and_a_retry_and_blocks_nothing(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    sku = demo_.a_sku_with_stock(api, "shopify", at_least=2)
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
    assert (demo_.order_of(api, "shopify", "990011") or {}).get("status") == "reserved"
    assert "/api/v1/partners/{id}/dead-letters/{letter_id}/retry" in api.get("/api/v1/openapi.json").json()["paths"]


def test_a_boutique_order_with_a_line_without_a_sku_is_a_dead_letter_on_the_partners_page_and_the_feed_moves_on(
        demo: Service, api: httpx.Client, sims: dict[str, str]) -> None:
    bad = httpx.post(f"{sims['boutique']}/_sim/boutique/orders", json={"items": [{"qty": 1, "price": "9.00"}]},
                     timeout=10).json()
    letter = demo_.wait_for(lambda: _letters(api, "boutique", bad["order_id"]), 10, "the boutique's dead letter")[0]
    sku = demo_.a_sku_with_stock(api, "boutique", at_least=2)
    good = httpx.post(f"{sims['boutique']}/_sim/orders", json={"sku": sku, "quantity": 1}, timeout=10).json()
    demo_.wait_for(lambda: demo_.order_of(api, "boutique", good["order_id"]), 10, "the next boutique order taken")
    manager = log_in(demo.base)
    html, retry_url = manager.get("/partners").text, f"/partners/boutique/dead-letters/{letter['id']}/retry"
    assert f'data-dead-letter="{letter["id"]}"' in html and ">Retry order</button>" in html
    assert manager.post(retry_url).status_code == 403   # no CSRF token
    answer = manager.post(retry_url, data={"csrf_token": csrf_of(html)})
    assert answer.status_code == 200 and "still cannot apply" in answer.text


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

    sku = demo_.a_sku_with_stock(api, "amazon", at_least=2)
    placed = httpx.post(f"{sims['amazon']}/_sim/orders", json={"sku": sku, "quantity": 1}, timeout=10).json()
    demo_.wait_for(lambda: demo_.order_of(api, "amazon", placed["order_id"]), 10, "the amazon order here")
    stats = httpx.get(f"{sims['amazon']}/_sim/stats", timeout=5).json()
    assert stats["calls:createSubscription"] == 1 and stats["notifications_delivered"] >= 1
    demo_.wait_for(lambda: waiting() == [0, 0], 10, "its SQS message deleted once the order committed")


def test_a_store_opened_after_the_start_serves_a_shopify_order_for_stock_only_it_holds(
        api: httpx.Client, sims: dict[str, str]) -> None:
    # Shopify's channel names no locations: it takes every location, the ones created later too.
    sku = demo_.a_sku_with_stock(api, "shopify", at_least=1)
    for row in api.get(f"/api/v1/variants/{sku}/stock").json()["locations"]:
        if row["available"] > 0:   # nothing of it left anywhere else (what orders hold stays held)
            api.post("/api/v1/stock/adjustments", json={
                "sku": sku, "location": row["location"], "delta": -row["available"], "reason": "correction",
            }).raise_for_status()
    demo_.wait_for(lambda: demo_.shown(sims["shopify"]).get(sku) == 0, 10, "Shopify shows none of it", every=0.1)
    api.post("/api/v1/locations", json={"code": "STORE-DUMBO", "name": "Dumbo pop-up", "kind": "store",
                                        "priority": 40}).raise_for_status()
    api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "STORE-DUMBO", "quantity": 3}
             ).raise_for_status()
    # shown: the new store's 3 less Shopify's buffer of 1
    demo_.wait_for(lambda: demo_.shown(sims["shopify"]).get(sku) == 2, 10, "Shopify shows the new store's stock",
                   every=0.1)
    placed = httpx.post(f"{sims['shopify']}/_sim/orders", json={"sku": sku, "quantity": 2}, timeout=10).json()
    order = demo_.wait_for(lambda: demo_.order_of(api, "shopify", placed["order_id"]), 10, "the shopify order here")
    assert order["status"] == "reserved"
    assert order["lines"][0]["allocations"] == [{"location": "STORE-DUMBO", "quantity": 2}]
    stock = {row["location"]: row for row in api.get(f"/api/v1/variants/{sku}/stock").json()["locations"]}
    assert (stock["STORE-DUMBO"]["reserved"], stock["STORE-DUMBO"]["available"]) == (2, 1)
