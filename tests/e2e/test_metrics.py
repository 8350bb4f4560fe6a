"""GET /metrics on the running demo: one scrape names every figure, from the web process, both
shards, the hub and every partner connector; the counters move with orders and with a stock change
that reaches a partner; no token, no figures."""

from __future__ import annotations

import time
import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.accounts import log_in, make_key, make_user
from tests.e2e.conftest import Service
from tests.e2e.partner_demo import PARTNERS, a_sku_with_stock, desired, shown, wait_for

NAMED = ("threadcount_orders_total counter", "threadcount_http_request_duration_seconds histogram",
         "threadcount_shard_batch_size histogram", "threadcount_shard_commit_seconds histogram",
         "threadcount_partner_push_lag_seconds histogram", "threadcount_partner_errors_total counter",
         "threadcount_partner_rate_limit_use gauge", "threadcount_alerts_open gauge",
         "threadcount_notifications_total counter", "threadcount_sse_clients gauge",
         "threadcount_scrape_errors_total counter")


def scrape(api: httpx.Client) -> tuple[str, list[tuple[str, dict[str, str], float]]]:
    answer = api.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    rows = [(s.name, s.labels, s.value)
            for family in text_string_to_metric_families(answer.text) for s in family.samples]
    return answer.text, rows


def total(api: httpx.Client, name: str, **labels: str) -> float:
    return sum(value for found, have, value in scrape(api)[1]
               if found == name and all(have.get(k) == v for k, v in labels.items()))


def test_metrics_without_a_token_is_refused(demo: Service) -> None:
    answer = httpx.get(f"{demo.base}/metrics", timeout=10)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
    assert httpx.get(f"{demo.base}/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_viewers_api_key_or_dashboard_session_may_scrape(demo: Service) -> None:
    _, _, key = make_key(demo, "viewer")
    with demo.client(key) as viewer:
        assert viewer.get("/metrics").status_code == 200
    browser = log_in(demo, make_user(demo, "viewer"))
    try:
        answer = browser.get("/metrics")
    finally:
        browser.close()
    assert answer.status_code == 200 and "threadcount_orders_total" in answer.text


def test_one_scrape_names_every_figure_from_the_web_process_each_shard_and_each_partner(
        api: httpx.Client, sims: dict[str, str]) -> None:
    def every_partner_answers() -> list[tuple[str, dict[str, str], float]] | None:
        rows = scrape(api)[1]
        actors = {labels.get("actor") for _, labels, _ in rows}
        started = {labels["partner"] for name, labels, _ in rows if name == "threadcount_partner_errors_total"}
        every = {"web", "hub", "shard-0", "shard-1", *(f"partner-{p}" for p in PARTNERS)}
        missing[:] = sorted((every - actors) | {f"partner-{p}" for p in set(PARTNERS) - started})
        return rows if not missing else None

    missing: list[str] = []
    # an actor still starting (its imports, its partner's first sync) is left out of a scrape for a
    # while: on a 2-core machine loaded with the rest of the suite that has taken over 30 s
    try:
        rows = wait_for(every_partner_answers, 90, "every actor in the scrape", every=0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; missing {missing}") from None
    text = scrape(api)[0]
    for named in NAMED:
        assert f"# TYPE {named}" in text, named
    shards = {labels["shard"] for name, labels, _ in rows if name == "threadcount_shard_commit_seconds_count"}
    assert shards == {"0", "1"}
    limited = {labels["partner"] for name, labels, _ in rows if name == "threadcount_partner_rate_limit_use"}
    assert limited, "no partner reported its rate-limit use"
    errors = {labels["partner"] for name, labels, _ in rows if name == "threadcount_partner_errors_total"}
    assert errors == set(PARTNERS)
    assert {labels["kind"] for name, labels, _ in rows if name == "threadcount_alerts_open"} >= {"low_stock"}
    assert any(name == "threadcount_http_request_duration_seconds_count"
               and labels.get("route") == "/api/v1/partners" for name, labels, _ in rows)


def test_orders_placed_move_the_orders_counter_of_their_channel(api: httpx.Client, sims: dict[str, str]) -> None:
    sku = a_sku_with_stock(api, "amazon", at_least=0)
    before = total(api, "threadcount_orders_total", channel="direct", actor="web")
    for _ in range(3):
        body = {"channel": "direct", "external_id": f"m-{uuid.uuid4().hex[:12]}",
                "lines": [{"sku": sku, "quantity": 1}]}
        assert api.post("/api/v1/orders", json=body).status_code == 201
    assert total(api, "threadcount_orders_total", channel="direct", actor="web") == before + 3
    # a shopper's order at a partner is counted by that partner's connector
    shop_before = total(api, "threadcount_orders_total", channel="shopify", actor="partner-shopify")
    shop_sku = a_sku_with_stock(api, "shopify")
    answer = httpx.post(f"{sims['shopify']}/_sim/orders", json={"sku": shop_sku, "quantity": 1}, timeout=10)
    assert answer.status_code == 200, answer.text
    wait_for(lambda: total(api, "threadcount_orders_total", channel="shopify", actor="partner-shopify")
             > shop_before, 10, "the shopify connector counted the order", every=0.2)


def test_a_stock_change_that_reaches_a_partner_moves_its_push_lag_count(
        api: httpx.Client, sims: dict[str, str]) -> None:
    sku = wait_for(lambda: sorted(desired(api, "etsy")), 60, "etsy's listings", every=0.2)[-1]
    wait_for(lambda: shown(sims["etsy"]).get(sku) == desired(api, "etsy")[sku], 30, "etsy in sync", every=0.2)
    before = total(api, "threadcount_partner_push_lag_seconds_count", partner="etsy")
    received = api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-WEST", "quantity": 5})
    assert received.status_code == 201, received.text
    started = time.monotonic()
    wait_for(lambda: total(api, "threadcount_partner_push_lag_seconds_count", partner="etsy") > before,
             10, "etsy's push lag observed", every=0.1)
    lag_sum = total(api, "threadcount_partner_push_lag_seconds_sum", partner="etsy")
    assert lag_sum > 0 and time.monotonic() - started < 10
