"""What the partner-sync run reads while it measures: the service's partner figures and desired
quantities, what each simulator shows, and the two watchers built on them (whether every simulator
has converged; when each watched quantity first appeared)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterable
from typing import Any

import httpx

from service.config import ChannelRule
from tests.benchmark.scenarios import _say
from tests.harness.procs import ServerProcess

PARTNERS = ("amazon", "etsy", "shopify", "square", "wholesale", "ebay", "boutique")
STABLE_FOR = 1.0             # converged means: still matching this long after it first matched
SIM_POLL_EVERY = 0.01        # seconds between reads of a simulator's listings
STATUS_REFRESH = 2.5         # the service refreshes partner status every 2 s
COUNTERS = ("desired_changes", "listings_pushed", "pushes", "pushes_saved_by_coalescing", "rate_limited")


def _pct(ordered: list[float], pct: float) -> float:
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def spread(values: Iterable[float]) -> dict[str, float | None]:
    """p50, p99 and max of ``values`` (None each when there are none)."""
    ordered = sorted(values)
    if not ordered:
        return {"p50": None, "p99": None, "max": None}
    return {"p50": round(_pct(ordered, 50), 1), "p99": round(_pct(ordered, 99), 1),
            "max": round(ordered[-1], 1)}


async def partner_figures(api: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    rows = (await api.get("/api/v1/partners")).raise_for_status().json()
    return {row["id"]: row.get("sync") or {} for row in rows}


async def desired_quantities(api: httpx.AsyncClient, partner: str, sku: str | None = None) -> dict[str, int]:
    params = {"sku": sku} if sku else None
    rows = (await api.get(f"/api/v1/partners/{partner}/listings", params=params)).raise_for_status().json()
    return {row["sku"]: row["desired"] for row in rows}


async def shown_by(http: httpx.AsyncClient, sim: str) -> dict[str, int]:
    return dict((await http.get(f"{sim}/_sim/listings")).raise_for_status().json())


async def sim_stats(http: httpx.AsyncClient, sim: str) -> dict[str, Any]:
    return dict((await http.get(f"{sim}/_sim/stats")).raise_for_status().json())


class Checker:
    """Whether every simulator shows what it should. A failed connection is counted and tried again at
    the next round (the deadline still holds): one blip must not cost the figures."""

    def __init__(self, api: httpx.AsyncClient, plain: httpx.AsyncClient, sims: dict[str, str],
                 server: ServerProcess, channels: dict[str, ChannelRule]) -> None:
        self.api, self.plain, self.sims, self.server = api, plain, sims, server
        self.channels = channels
        self.transport_errors = 0

    async def against_store(self) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
        """Every listing: what the simulator shows against the desired quantity the service stored."""
        async def one(partner: str) -> tuple[list[str], dict[str, int]]:
            want, have = await asyncio.gather(desired_quantities(self.api, partner),
                                              shown_by(self.plain, self.sims[partner]))
            wrong = [f"{sku} shows {have.get(sku)} not {q}" for sku, q in want.items() if have.get(sku) != q]
            return (wrong if want else ["no listings yet"]), want

        checked = await asyncio.gather(*(one(p) for p in PARTNERS))
        return ({p: wrong for p, (wrong, _) in zip(PARTNERS, checked, strict=True) if wrong},
                {p: want for p, (_, want) in zip(PARTNERS, checked, strict=True)})

    async def against_stock(self, skus: list[str]) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
        """The given SKUs: what each simulator shows against what their stock says it should show
        (the channel's locations and show rule from config.yaml), read from the stock itself."""
        stocks = await asyncio.gather(*(self.api.get(f"/api/v1/variants/{sku}/stock") for sku in skus))
        shown = await asyncio.gather(*(shown_by(self.plain, self.sims[p]) for p in PARTNERS))
        expected: dict[str, dict[str, int]] = {p: {} for p in PARTNERS}
        for sku, answer in zip(skus, stocks, strict=True):
            rows = answer.raise_for_status().json()["locations"]
            levels = {row["location"]: int(row["available"]) for row in rows}
            for p in PARTNERS:
                rule = self.channels.get(p) or ChannelRule()
                pool = levels if rule.locations is None else {k: levels.get(k, 0) for k in rule.locations}
                expected[p][sku] = rule.show.shown(sum(pool.values()))
        wrong = {p: [f"{sku} shows {have.get(sku)} not {q}"
                     for sku, q in expected[p].items() if have.get(sku) != q]
                 for p, have in zip(PARTNERS, shown, strict=True)}
        return {p: w for p, w in wrong.items() if w}, expected

    async def converged(self, deadline: float, every: float, skus: list[str] | None = None,
                        ) -> tuple[float, dict[str, dict[str, int]]]:
        """When every simulator first showed what it should (and still did STABLE_FOR later), and what
        that was. Against the stored desired quantities, or with ``skus`` against their stock."""
        first_match: float | None = None
        wrong: dict[str, list[str]] = {}
        while True:
            self.server.check_alive()
            try:
                wrong, expected = await (self.against_stock(skus) if skus else self.against_store())
            except httpx.TransportError as exc:
                self.transport_errors += 1
                _say(f"threadcount-sync: a check got no answer ({type(exc).__name__}: {exc!r}); trying again")
                wrong, first_match = {"(no answer)": [repr(exc)]}, None
            else:
                now = time.monotonic()
                if wrong:
                    first_match = None
                else:
                    first_match = first_match or now
                    if now - first_match >= STABLE_FOR:
                        return first_match, expected
            if time.monotonic() > deadline:
                sample = {p: (len(w), w[:3]) for p, w in wrong.items()}
                raise TimeoutError(f"simulators not converged; per partner (wrong, samples): {sample}")
            await asyncio.sleep(every)

    async def settled_counters(self, timeout: float = 60.0) -> dict[str, dict[str, int]]:
        """The partners' sync counters once nothing is pending and they held still across a refresh."""
        deadline = time.monotonic() + timeout
        held: tuple[float, dict[str, dict[str, int]]] | None = None
        while True:
            status = await partner_figures(self.api)
            now = time.monotonic()
            counters = {p: {k: int(status.get(p, {}).get(k) or 0) for k in COUNTERS} for p in PARTNERS}
            pending = sum(int(status.get(p, {}).get("pending") or 0) for p in PARTNERS)
            if pending or held is None or held[1] != counters:
                held = (now, counters)
            elif now - held[0] >= STATUS_REFRESH:
                return counters
            if now > deadline:
                raise TimeoutError(f"partner counters did not settle within {timeout:g} s: {status}")
            await asyncio.sleep(0.5)


# --- propagation ----------------------------------------------------------------------------------


class SimWatch:
    """Reads one simulator's listings every SIM_POLL_EVERY seconds and notes, for each watched SKU,
    when each quantity was first seen (perf_counter when the answer arrived)."""

    def __init__(self, http: httpx.AsyncClient, sim: str) -> None:
        self._http, self._url = http, f"{sim}/_sim/listings"
        self.seen: dict[str, dict[int, float]] = {}
        self._tick = asyncio.Event()
        self.reads = 0
        self.errors = 0

    async def run(self) -> None:
        while True:
            try:
                answer = await self._http.get(self._url)
                arrived = time.perf_counter()
                shown = answer.raise_for_status().json()
            except (httpx.HTTPError, ValueError):
                self.errors += 1
            else:
                self.reads += 1
                for sku, seen in self.seen.items():
                    quantity = shown.get(sku)
                    if quantity is not None:
                        seen.setdefault(int(quantity), arrived)
            tick, self._tick = self._tick, asyncio.Event()
            tick.set()
            await asyncio.sleep(SIM_POLL_EVERY)

    def watch(self, sku: str) -> None:
        self.seen[sku] = {}

    def forget(self, sku: str) -> None:
        self.seen.pop(sku, None)

    async def shown_at(self, sku: str, quantity: int, deadline: float) -> float | None:
        while quantity not in self.seen[sku]:
            left = deadline - time.perf_counter()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self._tick.wait(), left)
            except TimeoutError:
                return None
        return self.seen[sku][quantity]
