"""The benchmark's partner-orders and restart figures: which SKUs the shopper orders take, how each
partner's orders are said to come, and the lines the report prints for them."""

from __future__ import annotations

from typing import Any

import pytest

from sync.config import PartnerConfig
from tests.benchmark.report import render
from tests.benchmark.sync_orders import MIN_SHOWN, assign_skus, how_orders_come
from tests.benchmark.sync_watch import PARTNERS


def _desired(shown: int, skus: int = 200) -> dict[str, dict[str, int]]:
    return {p: {f"SKU-{n:03d}": shown for n in range(skus)} for p in PARTNERS}


def test_each_partner_gets_its_own_skus_none_shared_and_each_shown_enough() -> None:
    desired = _desired(MIN_SHOWN)
    desired["square"] = {f"SKU-{n:03d}": MIN_SHOWN if n < 30 else 0 for n in range(200)}
    chosen = assign_skus(desired, per_partner=20)
    every = [sku for skus in chosen.values() for sku in skus]
    assert len(every) == len(set(every)) == 20 * len(PARTNERS)
    assert all(desired[p][sku] >= MIN_SHOWN for p, skus in chosen.items() for sku in skus)


def test_too_few_skus_shown_for_the_orders_is_an_error_naming_the_partner() -> None:
    desired = _desired(MIN_SHOWN)
    desired["boutique"] = {sku: MIN_SHOWN - 1 for sku in desired["boutique"]}
    with pytest.raises(RuntimeError, match="boutique"):
        assign_skus(desired, per_partner=20)


def test_a_webhook_partner_is_said_to_send_webhooks_and_a_polled_one_its_interval() -> None:
    wholesale = PartnerConfig(id="wholesale", kind="wholesale", name="w", base_url="", credentials={}, options={},
                              poll_interval=5.0, poll_jitter=1.0)
    assert how_orders_come(["push", "poll", "webhook"], wholesale) == "webhook"
    assert how_orders_come(["push", "poll"], wholesale) == "polled every 5±1 s"


def _sync_record() -> dict[str, Any]:
    per = {p: {"orders": 20, "missed": 0, "p50": 80.0, "p99": 200.0, "max": 210.0,
               "how": "webhook" if p != "wholesale" else "polled every 5±1 s"} for p in PARTNERS}
    return {
        "partner_orders": {"orders": 140, "orders_per_s": 3.3, "read_every_ms": 25, "per_partner_ms": per,
                           "overall_ms": {"orders": 140, "missed": 0, "p50": 90.0, "p99": 4000.0,
                                          "max": 5100.0}},
        "restart": {"drifted_listings": {"etsy": 400, "shopify": 400}, "start_to_ready_s": 5.5,
                    "start_to_simulators_listed_s": 7.1, "start_to_agreed_s": 17.6,
                    "rate_limited": dict.fromkeys(PARTNERS, 0)},
    }


def test_the_report_prints_the_partner_orders_per_partner_with_how_they_come() -> None:
    text = render({"settings": {"clients": 1, "warmup": 0, "duration": 1, "skus": 1, "cpus": 2,
                                "engine_skipped": True}, "sync": _sync_record()})
    assert "shopper order at the simulator -> GET /api/v1/orders returns it" in text
    assert "includes waiting for its next poll" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("wholesale"))
    assert row.split()[1:6] == ["20", "80.00", "200", "210", "0"] and "polled every 5±1 s" in row


def test_the_report_prints_how_long_after_a_restart_every_simulator_agreed() -> None:
    text = render({"settings": {"clients": 1, "warmup": 0, "duration": 1, "skus": 1, "cpus": 2,
                                "engine_skipped": True}, "sync": _sync_record()})
    assert "etsy 400, shopify 400 listings" in text
    assert "every simulator agrees 17.60 s after the new start (ready 5.50 s, simulators listed 7.10 s)" in text
    assert "rate-limit violations after the restart" in text and "(none)" in text
