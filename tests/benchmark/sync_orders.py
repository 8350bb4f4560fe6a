"""Partner orders in: a shopper buys at each simulator (`POST /_sim/orders`), the simulator tells
Threadcount its partner's way (a signed webhook, the seller's SQS queue, or nothing: it waits to be
polled), and the time from sending the shopper's order until `GET /api/v1/orders` returns it is taken
per partner. A partner's own order id is the order's external_id (the PO number for the distributor).

Orders go round-robin over the partners, one every ORDER_GAP seconds, each on its own SKU that the
partner shows at least MIN_SHOWN of, so every order can be reserved and the orders' stock changes stay
within every partner's published push rate."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import httpx

from sync.config import PartnerConfig
from tests.benchmark.scenarios import _say
from tests.benchmark.sync_watch import PARTNERS, spread

ORDERS_PER_PARTNER = 20
ORDER_GAP = 0.3        # seconds between two shopper orders (any partners): about 3.3 orders a second
MIN_SHOWN = 3          # an order's SKU: the partner shows at least this many
FOUND_EVERY = 0.025    # seconds between reads of the newest orders (the figures' resolution)
NEWEST = 50            # orders read each time, newest first: more than can arrive between two reads
INTAKE_TIMEOUT = 30.0  # an order not found this long after it was sent counts as missed


def assign_skus(desired: dict[str, dict[str, int]], per_partner: int, seed: int = 11) -> dict[str, list[str]]:
    """{partner: its orders' SKUs}: distinct across every partner (one order's stock change must not
    land on another's), each shown by its partner at least MIN_SHOWN times. The partners with the
    fewest candidates choose first."""
    rng = random.Random(seed)
    taken: set[str] = set()
    chosen: dict[str, list[str]] = {}
    candidates = {p: sorted(sku for sku, q in desired[p].items() if q >= MIN_SHOWN) for p in PARTNERS}
    for p in sorted(PARTNERS, key=lambda p: len(candidates[p])):
        free = [sku for sku in candidates[p] if sku not in taken]
        if len(free) < per_partner:
            raise RuntimeError(f"{p}: only {len(free)} free SKUs shown >= {MIN_SHOWN}, need {per_partner}")
        chosen[p] = rng.sample(free, per_partner)
        taken.update(chosen[p])
    return chosen


def how_orders_come(capabilities: list[str], config: PartnerConfig | None) -> str:
    """The words for how a partner's orders reach us: its webhook, or its poll interval."""
    if "webhook" in capabilities:
        return "webhook"
    if config is None:
        return "polled"
    interval, jitter = f"{config.poll_interval:g}", f"{config.poll_jitter:g}"
    return f"polled every {interval}±{jitter} s" if config.poll_jitter else f"polled every {interval} s"


class OrderWatch:
    """Reads the newest orders every FOUND_EVERY seconds and notes when each (channel, external_id)
    was first returned (perf_counter when the answer arrived). Orders there before it started are
    not noted."""

    def __init__(self, api: httpx.AsyncClient) -> None:
        self._api = api
        self.found: dict[tuple[str, str], tuple[float, str]] = {}
        self._before: set[tuple[str, str]] = set()
        self.reads = 0
        self.errors = 0

    async def prime(self) -> None:
        self._before = {(row["channel"], row["external_id"]) for row in await self._newest()}

    async def _newest(self) -> list[dict[str, Any]]:
        answer = await self._api.get("/api/v1/orders", params={"limit": NEWEST})
        return list(answer.raise_for_status().json())

    async def run(self) -> None:
        while True:
            try:
                rows = await self._newest()
                arrived = time.perf_counter()
            except (httpx.HTTPError, ValueError):
                self.errors += 1
            else:
                self.reads += 1
                for row in rows:
                    key = (row["channel"], row["external_id"])
                    if key not in self._before:
                        self.found.setdefault(key, (arrived, row["status"]))
            await asyncio.sleep(FOUND_EVERY)


async def partner_orders(api: httpx.AsyncClient, plain: httpx.AsyncClient, sims: dict[str, str],
                         desired: dict[str, dict[str, int]], configs: dict[str, PartnerConfig],
                         per_partner: int = ORDERS_PER_PARTNER) -> dict[str, Any]:
    skus = assign_skus(desired, per_partner)
    rows = (await api.get("/api/v1/partners")).raise_for_status().json()
    how = {row["id"]: how_orders_come(row.get("capabilities") or [], configs.get(row["id"])) for row in rows}
    _say(f"threadcount-sync: partner orders, {per_partner} shopper orders at each simulator, "
         f"{ORDER_GAP * 1000:.0f} ms apart round-robin")
    watch = OrderWatch(api)
    await watch.prime()
    reading = asyncio.create_task(watch.run())
    sent: dict[tuple[str, str], float] = {}
    refused: list[str] = []
    began = time.perf_counter()
    try:
        for n in range(per_partner):
            for p in PARTNERS:
                at = time.perf_counter()
                answer = await plain.post(f"{sims[p]}/_sim/orders", json={"sku": skus[p][n], "quantity": 1})
                if answer.status_code != 200:
                    refused.append(f"{p} {skus[p][n]}: HTTP {answer.status_code} {answer.text[:200]}")
                else:
                    sent[(p, str(answer.json()["order_id"]))] = at
                await asyncio.sleep(ORDER_GAP)
        ordering_s = time.perf_counter() - began
        deadline = time.perf_counter() + INTAKE_TIMEOUT
        while any(key not in watch.found for key in sent) and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
    finally:
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)

    per: dict[str, Any] = {}
    every: list[float] = []
    for p in PARTNERS:
        mine = {key: at for key, at in sent.items() if key[0] == p}
        found = {key: watch.found[key] for key in mine if key in watch.found}
        ms = [(found[key][0] - mine[key]) * 1000 for key in found]
        every += ms
        statuses: dict[str, int] = {}
        for _, status in found.values():
            statuses[status] = statuses.get(status, 0) + 1
        per[p] = {"orders": len(mine), "missed": len(mine) - len(found), "how": how.get(p, "?"),
                  "statuses": statuses, **spread(ms)}
    return {
        "orders": len(sent),
        "orders_per_s": round(len(sent) / ordering_s, 1),
        "read_every_ms": round(FOUND_EVERY * 1000),
        "per_partner_ms": per,
        "overall_ms": {"orders": len(sent), "missed": sum(v["missed"] for v in per.values()), **spread(every)},
        "refused_by_simulators": refused,
        "order_reads": watch.reads,
        "order_read_errors": watch.errors,
    }
