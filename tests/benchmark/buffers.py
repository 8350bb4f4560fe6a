"""Fixed buffers (0, 3) against `buffer: auto` in a sales burst across channels: a discrete-event
SIMULATION, not a run of the service. It drives the real sizing code (sync.buffers.AdaptiveBuffers
and sync.rules.ShowRule, on a simulated clock) with the partners' measured push latencies and order
delays, and Poisson sales per channel and SKU.

The model. Each SKU starts with `stock` units and is received again (`stock` units, `restock_s`
after it sold out). Every channel sells each SKU at a quiet Poisson rate; during the burst the hot
SKUs sell `burst_factor` times faster at every channel. `direct` sells only what is available. A
partner sells what it shows (and counts it down itself); its order reaches us after its order delay
(webhook partners 0.06 s, polled ones a uniform wait up to their poll interval + jitter); then it is
reserved, or, with nothing available, it is a partner-side OVERSELL (rejected or backordered). Every
change of what a partner should be shown reaches it after a push latency drawn from a log-normal
fitted to that partner's measured p50/p99, and sets the partner's quantity (the newest push wins).
UNITS HELD BACK are what the buffers keep from the partners while the stock is there: per partner
and SKU min(available, buffer), sampled every simulated second and averaged over the run (units held
back at a typical moment). The figure to beat is their sum. Every setting sees the same demand."""

from __future__ import annotations

import heapq
import math
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync.buffers import AdaptiveBuffers, AutoBuffer
from sync.rules import ShowRule

WEBHOOK_DELAY = 0.06   # s: a shopper's order by webhook until we have it (measured p50 51-65 ms)


@dataclass(frozen=True, slots=True)
class Partner:
    name: str
    push_p50: float   # s, measured change -> simulator shows it
    push_p99: float
    poll_every: float = 0.0   # s, interval + jitter; 0: orders come by webhook


# Measured on 2026-12-02 (README, The benchmark): push latency p50/p99; Amazon's orders come through
# its SQS queue read every 2 +/- 0.5 s, the distributor's 850s every 5 +/- 1 s.
PARTNERS = (Partner("amazon", 0.189, 0.647, 2.5), Partner("etsy", 0.357, 1.628),
            Partner("shopify", 0.183, 0.670), Partner("ebay", 0.183, 0.568),
            Partner("wholesale", 0.926, 1.511, 6.0))


@dataclass(frozen=True, slots=True)
class Scenario:
    skus: int = 40
    hot: int = 8
    stock: int = 20
    restock_s: float = 20.0
    reorder_at: int = 2           # a receipt of `stock` units is due restock_s after available drops to this
    quiet_rate: float = 0.002     # units/s per channel and SKU
    burst_factor: float = 60.0    # hot SKUs during the burst
    burst: tuple[float, float] = (120.0, 240.0)
    seconds: float = 360.0
    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    partners: tuple[Partner, ...] = PARTNERS


@dataclass
class Outcome:
    oversold: int = 0
    held_samples: list[int] = field(default_factory=list)
    partner_sales: int = 0
    direct_sales: int = 0
    turned_away: int = 0   # shoppers a partner turned away (it showed 0) while we had the stock

    @property
    def held_back(self) -> float:
        return statistics.fmean(self.held_samples) if self.held_samples else 0.0


Setting = tuple[str, Callable[[], AutoBuffer | None], int]   # name, auto rule (or None), fixed buffer
SETTINGS: tuple[Setting, ...] = (
    ("fixed 0", lambda: None, 0), ("fixed 3", lambda: None, 3), ("auto", lambda: AutoBuffer(), 0),
    # for reference: the last 3 hidden always (auto with floor = ceiling), to tell how much of auto's
    # result comes from hiding the last units rather than taking the buffer off every quantity
    ("auto 3..3", lambda: AutoBuffer(minimum=3, maximum=3), 0))


def demand(scenario: Scenario, seed: int) -> list[tuple[float, str, int]]:
    """Every shopper's arrival (time, channel, sku), by thinning a Poisson process at the peak rate."""
    rng = random.Random(seed)
    arrivals = []
    for channel in ("direct", *(p.name for p in scenario.partners)):
        for sku in range(scenario.skus):
            hot = sku < scenario.hot
            peak = scenario.quiet_rate * (scenario.burst_factor if hot else 1.0)
            t = 0.0
            while True:
                t += rng.expovariate(peak)
                if t >= scenario.seconds:
                    break
                in_burst = scenario.burst[0] <= t < scenario.burst[1]
                if (hot and in_burst) or rng.random() < scenario.quiet_rate / peak:
                    arrivals.append((t, channel, sku))
    return sorted(arrivals)


class Simulation:
    def __init__(self, scenario: Scenario, rule: AutoBuffer | None, fixed: int, seed: int):
        self.s, self.now, self.seq = scenario, 0.0, 0
        self.rng = random.Random(seed * 7919 + fixed)
        self.events: list[tuple[float, int, str, tuple[Any, ...]]] = []
        self.available = [scenario.stock] * scenario.skus
        self.restocking: set[int] = set()
        self.show = ShowRule(buffer=fixed)
        self.buffers = {p.name: AdaptiveBuffers(rule, clock=lambda: self.now, order_delay_s=p.poll_every)
                        for p in scenario.partners} if rule is not None else {}
        self.desired = {p.name: [self.shown(p.name, sku) for sku in range(scenario.skus)]
                        for p in scenario.partners}
        self.at_partner = {name: list(values) for name, values in self.desired.items()}
        self.told_at = {p.name: [0.0] * scenario.skus for p in scenario.partners}
        self.by_name = {p.name: p for p in scenario.partners}
        self.out = Outcome()

    def at(self, when: float, kind: str, *payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.events, (when, self.seq, kind, payload))

    def shown(self, partner: str, sku: int) -> int:
        """What sync.desired.DesiredQuantities.desired does."""
        buffers, available = self.buffers.get(partner), self.available[sku]
        if buffers is None:
            return self.show.shown(available)
        buffers.seen(sku_name(sku), available)
        return self.show.shown(available, buffers.size(sku_name(sku)))

    def run(self, arrivals: list[tuple[float, str, int]]) -> Outcome:
        for when, channel, sku in arrivals:
            self.at(when, "shopper", channel, sku)
        for second in range(1, int(self.s.seconds)):
            self.at(float(second), "tick")
        while self.events:
            self.now, _, kind, payload = heapq.heappop(self.events)
            getattr(self, f"_{kind}")(*payload)
        return self.out

    def _shopper(self, channel: str, sku: int) -> None:
        if channel == "direct":
            if self.available[sku] > 0:
                self.out.direct_sales += 1
                self.take(sku)
            return
        if self.at_partner[channel][sku] > 0:   # the partner sells what it shows, and counts it down
            self.at_partner[channel][sku] -= 1
            self.out.partner_sales += 1
            poll = self.by_name[channel].poll_every
            self.at(self.now + (self.rng.uniform(0.0, poll) if poll else WEBHOOK_DELAY), "order", channel, sku)
        elif self.available[sku] > 0:
            self.out.turned_away += 1

    def _order(self, partner: str, sku: int) -> None:
        if self.available[sku] > 0:
            self.take(sku)
        else:
            self.out.oversold += 1
            self.follow(sku, [partner])

    def take(self, sku: int) -> None:
        self.available[sku] -= 1
        if self.available[sku] <= self.s.reorder_at and sku not in self.restocking:
            self.restocking.add(sku)
            self.at(self.now + self.s.restock_s, "restock", sku)
        self.follow(sku, list(self.desired))

    def _restock(self, sku: int) -> None:
        self.restocking.discard(sku)
        self.available[sku] += self.s.stock
        self.follow(sku, list(self.desired))

    def follow(self, sku: int, partners: list[str]) -> None:
        for name in partners:
            wanted = self.shown(name, sku)
            if wanted != self.desired[name][sku]:
                self.desired[name][sku] = wanted
                partner = self.by_name[name]
                sigma = math.log(partner.push_p99 / partner.push_p50) / 2.326
                self.at(self.now + self.rng.lognormvariate(math.log(partner.push_p50), sigma),
                        "pushed", name, sku, wanted, self.now)

    def _pushed(self, partner: str, sku: int, quantity: int, sent_at: float) -> None:
        if sent_at >= self.told_at[partner][sku]:   # an older push landing late changes nothing
            self.told_at[partner][sku] = sent_at
            self.at_partner[partner][sku] = quantity
        if partner in self.buffers:
            self.buffers[partner].pushed(self.now - sent_at)

    def _tick(self) -> None:
        for name, buffers in self.buffers.items():   # what PartnerSync._rebuffer_forever does
            for sku_text in buffers.moved():
                self.follow(int(sku_text[4:]), [name])
        plain = [ShowRule().shown(available) for available in self.available]
        self.out.held_samples.append(sum(plain[sku] - wanted[sku] for wanted in self.desired.values()
                                         for sku in range(self.s.skus)))


def sku_name(sku: int) -> str:
    return f"SKU-{sku:03d}"


def compare(scenario: Scenario | None = None) -> dict[str, Any]:
    """Each setting over every seed: mean oversold units, units held back and their sum."""
    scenario = scenario or Scenario()
    started = time.monotonic()
    results: dict[str, Any] = {}
    demands = {seed: demand(scenario, seed) for seed in scenario.seeds}
    for name, rule, fixed in SETTINGS:
        runs = [Simulation(scenario, rule(), fixed, seed).run(demands[seed]) for seed in scenario.seeds]
        oversold = statistics.fmean(r.oversold for r in runs)
        held = statistics.fmean(r.held_back for r in runs)
        results[name] = {"oversold": round(oversold, 2), "held_back": round(held, 2),
                         "sum": round(oversold + held, 2),
                         "oversold_per_seed": [r.oversold for r in runs],
                         "partner_sales": round(statistics.fmean(r.partner_sales for r in runs), 1),
                         "turned_away": round(statistics.fmean(r.turned_away for r in runs), 1),
                         "direct_sales": round(statistics.fmean(r.direct_sales for r in runs), 1)}
    return {"scenario": {"skus": scenario.skus, "hot": scenario.hot, "stock": scenario.stock,
                         "seconds": scenario.seconds, "burst": list(scenario.burst),
                         "burst_factor": scenario.burst_factor, "quiet_rate": scenario.quiet_rate,
                         "seeds": len(scenario.seeds), "partners": [p.name for p in scenario.partners]},
            "settings": results, "best": min(results, key=lambda k: results[k]["sum"]),
            "wall_s": round(time.monotonic() - started, 2)}


def buffer_lines(found: dict[str, Any] | None) -> list[str]:
    """The comparison as the report prints it."""
    head = "buffers: fixed 0, fixed 3 and auto in a sales burst (a discrete-event SIMULATION driving sync/buffers.py):"
    if found is None:
        return ["", f"{head} skipped"]
    if "error" in found:
        return ["", head, f"  FAILED: {found['error']}"]
    s = found["scenario"]
    lines = ["", head,
             f"  {s['skus']} SKUs ({s['hot']} hot, x{s['burst_factor']:g} from {s['burst'][0]:g} s to "
             f"{s['burst'][1]:g} s), {s['stock']} units each and again once down to 2, {s['seconds']:g} s, "
             f"direct + {', '.join(s['partners'])} at their measured push lags and order delays, "
             f"mean of {s['seeds']} seeds ({found['wall_s']:g} s):",
             f"    {'setting':<11}{'oversold':>10}{'held back':>11}{'sum':>9}{'sales':>8}{'turned away':>13}"]
    for name, r in found["settings"].items():
        sales = r["partner_sales"] + r["direct_sales"]
        lines.append(f"    {name:<11}{r['oversold']:>10.1f}{r['held_back']:>11.1f}{r['sum']:>9.1f}"
                     f"{sales:>8.0f}{r['turned_away']:>13.1f}")
    lines.append("    oversold: units partners sold that we then rejected or backordered; held back: units the "
                 "buffers kept from partners, sampled every second (mean); turned away: shoppers a partner "
                 "refused while we had stock")
    others = [r["sum"] for name, r in found["settings"].items() if name in ("fixed 0", "fixed 3")]
    verdict = "beats" if found["settings"]["auto"]["sum"] < min(others) else "does NOT beat"
    lines.append(f"  auto {verdict} both fixed buffers on the sum (best: {found['best']})")
    return lines
