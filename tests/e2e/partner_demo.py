"""What the partner e2e modules share: the demo with every simulator (shoppers off) and the reads and
waits their tests are built from."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

PARTNERS = ("amazon", "etsy", "shopify", "square", "wholesale", "ebay", "boutique")
LATENCIES: list[float] = []
# The demo's sheet sets are kits: no stock of their own (a receipt of one is refused), so the tests that
# pick "a listed SKU" to receive or sell pick among the other variants (test_kits_demo covers the sets)
DEMO_KITS = "BEDSET-"



def all_listed(api: httpx.Client) -> list[dict[str, Any]] | None:
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


def desired(api: httpx.Client, partner: str, kits: bool = False) -> dict[str, int]:
    """What the partner should show, by SKU; the demo's kits only when asked for."""
    rows = api.get(f"/api/v1/partners/{partner}/listings").json()
    return {row["sku"]: row["desired"] for row in rows if kits or not row["sku"].startswith(DEMO_KITS)}


def converged(api: httpx.Client, sims: dict[str, str], partner: str) -> bool:
    want = desired(api, partner, kits=True)
    have = shown(sims[partner])
    return bool(want) and all(have.get(sku) == quantity for sku, quantity in want.items())


def all_converged(api: httpx.Client, sims: dict[str, str], timeout: float = 120) -> None:
    for partner in PARTNERS:
        wait_for(lambda p=partner: converged(api, sims, p), timeout, f"{partner} shows what it should",
                 every=0.5)


def available(api: httpx.Client, sku: str) -> int:
    return api.get(f"/api/v1/variants/{sku}/stock").json()["available"]


def a_sku_with_stock(api: httpx.Client, partner: str, at_least: int = 4, timeout: float = 60) -> str:
    """The first SKU the partner lists with at least `at_least` available, once it lists one: a test
    run on its own meets a demo that may still be making its first listings."""
    def found() -> str | None:
        return next((sku for sku, quantity in sorted(desired(api, partner).items()) if quantity >= at_least), None)
    return wait_for(found, timeout, f"{partner} to list a SKU with {at_least} or more", every=0.2)


def order_of(api: httpx.Client, channel: str, external_id: str) -> dict[str, Any] | None:
    found = api.get("/api/v1/orders", params={"channel": channel, "external_id": external_id}).json()
    return found[0] if found else None
