"""The partner-sync run: `python run.py` in demo mode (demo catalog, every partner simulator, shoppers
off), spawned like the Threadcount run, then measured over HTTP:

1. the initial full sync: from ready until every simulator shows what every listing should show;
2. propagation: single-line orders one at a time, each on its own SKU; for every partner whose desired
   quantity changed, the time from sending the order to its simulator showing the new quantity;
3. partner orders in: shopper orders placed at each simulator, timed until the API returns them
   (sync_orders.py);
4. coalescing: a burst of orders on a few hot SKUs, then the desired changes against the listings
   pushed (the partners' own counters) and the time until every simulator shows the final values;
5. the simulators' count of rate-limit violations (each must be 0);
6. a restart: run.py stopped, two shops drifted meanwhile, started again on the same data folder, timed
   until every simulator agrees (sync_restart.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from service.config import load_settings
from tests.benchmark import sync_restart
from tests.benchmark.scenarios import READY_TIMEOUT, _say, _stop, threadcount_env
from tests.benchmark.sync_orders import ORDERS_PER_PARTNER, partner_orders
from tests.benchmark.sync_watch import (
    COUNTERS,
    PARTNERS,
    Checker,
    SimWatch,
    desired_quantities,
    partner_figures,
    sim_stats,
    spread,
)
from tests.harness.procs import REPO_ROOT, ServerError, ServerProcess, free_ports

LISTED_TIMEOUT = 60.0        # ready -> every partner listed with its simulator
CONVERGE_TIMEOUT = 180.0     # waits for every simulator to show what it should
PROPAGATION_ORDERS = 60
ORDER_GAP = 0.4  # seconds between orders: about 2.4 changes/s, within every partner's published rate
DESIRED_AFTER = 0.5          # read the new desired quantities this long after the order's 201
PROPAGATION_TIMEOUT = 15.0   # an order's change not shown by then counts as missed
BURST_CLIENTS = 32
BURST_SKUS = 8
BURST_SECONDS = 5.0
# Units received at WH-EAST per hot SKU before the burst: the demo's ~190 would sell out in about 2 s.
# With them every quantity shown stays under Etsy's ceiling of 999 (the connector clamps to it).
BURST_RESTOCK = 800
CONNECT_RETRIES = 3


def run_sync(result: dict[str, Any], partner_orders_each: int = ORDERS_PER_PARTNER, restart: bool = True) -> None:
    """Fills ``result`` as it goes, so a failure keeps the figures measured before it.
    ``partner_orders_each``: shopper orders per simulator (0: none); ``restart``: measure one."""
    if not (REPO_ROOT / "run.py").exists():
        raise FileNotFoundError(f"{REPO_ROOT / 'run.py'} does not exist yet")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tc-bench-sync-", ignore_cleanup_errors=True) as tmp:
        web_port, ingress_port = free_ports(2)
        token = secrets.token_urlsafe(32)
        env = threadcount_env(Path(tmp, "data"), web_port, ingress_port, token)
        env.update(THREADCOUNT_DEMO="1", THREADCOUNT_SHOPPERS="0")
        log = Path(tmp, "threadcount-sync.log")
        server = ServerProcess("threadcount-sync", [sys.executable, "run.py"], env=env, log_path=log)
        base = f"http://127.0.0.1:{web_port}"
        try:
            try:
                server.start()
                ready = server.wait_ready(f"{base}/healthz", READY_TIMEOUT)
                ready_at = time.monotonic()
                result["start_to_ready_s"] = round(ready, 2)
                _say(f"threadcount-sync: ready in {ready:.2f} s (demo, every partner simulator, no shoppers)")
                sims = asyncio.run(_scenario(base, token, env, server, ready_at, partner_orders_each, result))
            except Exception as exc:
                if not isinstance(exc, ServerError):
                    exc.add_note(f"last lines of the threadcount-sync log:\n{server.log_tail()}")
                raise
            finally:
                _stop(server, result)
            if restart:  # on the same data folder, the simulators' saved state included
                result["restart"] = {}
                channels = load_settings(REPO_ROOT / "config.yaml", env).channels
                sync_restart.restart(env, token, Path(tmp), sims, channels, result["restart"])
        finally:
            result["scenario_s"] = round(time.monotonic() - began, 1)


async def _scenario(base: str, token: str, env: dict[str, str], server: ServerProcess, ready_at: float,
                    partner_orders_each: int, result: dict[str, Any]) -> dict[str, str]:
    """The measures while the first run.py runs; {partner: its simulator's URL}."""
    headers = {"Authorization": f"Bearer {token}"}
    settings = load_settings(REPO_ROOT / "config.yaml", env)
    channels = settings.channels
    async with (httpx.AsyncClient(base_url=base, headers=headers, timeout=30, transport=_retrying()) as api,
                httpx.AsyncClient(timeout=10, transport=_retrying()) as plain):
        sims = await _partners(api, server)
        check = Checker(api, plain, sims, server, channels)
        try:
            _say("threadcount-sync: waiting for the initial full sync")
            converged_at, desired = await check.converged(ready_at + CONVERGE_TIMEOUT, every=0.25)
            result["initial_sync"] = {
                "ready_to_converged_s": round(converged_at - ready_at, 2),
                "listings": {p: len(desired[p]) for p in PARTNERS},
            }
            _say(f"threadcount-sync: converged {converged_at - ready_at:.2f} s after ready")
            result["propagation"] = await _propagation(api, plain, sims, desired)
            if partner_orders_each:
                _, desired = await check.converged(time.monotonic() + CONVERGE_TIMEOUT, every=0.25)
                result["partner_orders"] = await partner_orders(api, plain, sims, desired, settings.partners,
                                                                partner_orders_each)
            burst: dict[str, Any] = {}
            result["burst"] = burst
            await _burst(base, headers, api, check, desired, burst)
        finally:  # whatever happened above, the simulators' verdict on rate limits
            with contextlib.suppress(Exception):
                result["rate_limited"] = {p: (await sim_stats(plain, sims[p])).get("rate_limited", 0)
                                          for p in PARTNERS}
                status = await partner_figures(api)
                result["connector_rate_limited"] = {p: status[p].get("rate_limited", 0) for p in PARTNERS}
                result["service_lag_s"] = {p: {"p50": status[p].get("lag_p50_s"),
                                               "p99": status[p].get("lag_p99_s")} for p in PARTNERS}
            result["check_transport_errors"] = check.transport_errors
    return sims


# --- what the service and the simulators say ------------------------------------------------------


def _retrying() -> httpx.AsyncHTTPTransport:
    """A connection that could not be made is tried again: the request never reached the server, so
    even an order is safe to send again."""
    return httpx.AsyncHTTPTransport(retries=CONNECT_RETRIES)


async def _partners(api: httpx.AsyncClient, server: ServerProcess) -> dict[str, str]:
    """{partner: its simulator's base URL}, once every partner is listed."""
    deadline = time.monotonic() + LISTED_TIMEOUT
    while True:
        server.check_alive()
        rows = (await api.get("/api/v1/partners")).raise_for_status().json()
        found = {row["id"]: row.get("base_url") for row in rows}
        if all(found.get(p) for p in PARTNERS):
            return {p: str(found[p]).rstrip("/") for p in PARTNERS}
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every partner was listed with a simulator within {LISTED_TIMEOUT:g} s: "
                               f"{found}")
        await asyncio.sleep(0.25)


async def _propagation(api: httpx.AsyncClient, plain: httpx.AsyncClient, sims: dict[str, str],
                       desired: dict[str, dict[str, int]]) -> dict[str, Any]:
    candidates = sorted(sku for sku, quantity in desired["amazon"].items() if quantity >= 2)
    if len(candidates) < PROPAGATION_ORDERS:
        raise RuntimeError(f"only {len(candidates)} SKUs with amazon desired >= 2, need {PROPAGATION_ORDERS}")
    skus = random.Random(7).sample(candidates, PROPAGATION_ORDERS)
    _say(f"threadcount-sync: propagation, {PROPAGATION_ORDERS} single-line orders "
         f"{ORDER_GAP * 1000:.0f} ms apart")
    run_id = secrets.token_hex(4)
    watches = {p: SimWatch(plain, sims[p]) for p in PARTNERS}
    pollers = [asyncio.create_task(w.run()) for w in watches.values()]
    measuring: list[asyncio.Task[dict[str, float | None]]] = []
    post_ms: list[float] = []
    began = time.perf_counter()
    try:
        for n, sku in enumerate(skus):
            for watch in watches.values():
                watch.watch(sku)
            sent = time.perf_counter()
            answer = await api.post("/api/v1/orders", json={
                "channel": "direct", "external_id": f"bench-sync-{run_id}-{n}",
                "lines": [{"sku": sku, "quantity": 1}]})
            if answer.status_code != 201:
                raise RuntimeError(f"order on {sku}: HTTP {answer.status_code} {answer.text[:300]}")
            post_ms.append((time.perf_counter() - sent) * 1000)
            before = {p: desired[p][sku] for p in PARTNERS if sku in desired[p]}
            measuring.append(asyncio.create_task(_measure(api, watches, sku, before, sent)))
            await asyncio.sleep(ORDER_GAP)
        ordering_s = time.perf_counter() - began
        outcomes = await asyncio.gather(*measuring)
    finally:
        for task in [*pollers, *measuring]:
            task.cancel()
        await asyncio.gather(*pollers, *measuring, return_exceptions=True)

    per_partner: dict[str, Any] = {}
    every: list[float] = []
    for p in PARTNERS:
        changed = [o[p] for o in outcomes if p in o]
        shown = [ms for ms in changed if ms is not None]
        every += shown
        per_partner[p] = {"changes": len(changed), "missed": len(changed) - len(shown), **spread(shown)}
    missed = sum(v["missed"] for v in per_partner.values())
    return {
        "orders": PROPAGATION_ORDERS,
        "orders_per_s": round(PROPAGATION_ORDERS / ordering_s, 1),
        "per_partner_ms": per_partner,
        "overall_ms": {"changes": len(every) + missed, "missed": missed, **spread(every)},
        "orders_changing_no_partner": sum(1 for o in outcomes if not o),
        "order_post_p50_ms": spread(post_ms)["p50"],
        "sim_reads": sum(w.reads for w in watches.values()),
        "sim_read_errors": sum(w.errors for w in watches.values()),
    }


async def _measure(api: httpx.AsyncClient, watches: dict[str, SimWatch], sku: str, before: dict[str, int],
                   sent: float) -> dict[str, float | None]:
    """{partner whose desired quantity changed: ms from sending until its simulator showed it, or None}."""
    try:
        await asyncio.sleep(DESIRED_AFTER)
        changed: dict[str, int] = {}
        listed = list(before)
        for _ in range(10):  # the order changes at least one partner's quantity: wait for it to be known
            after = await asyncio.gather(*(desired_quantities(api, p, sku) for p in listed))
            changed = {p: rows[sku] for p, rows in zip(listed, after, strict=True)
                       if sku in rows and rows[sku] != before[p]}
            if changed:
                break
            await asyncio.sleep(0.25)
        deadline = sent + PROPAGATION_TIMEOUT
        seen = await asyncio.gather(*(watches[p].shown_at(sku, q, deadline) for p, q in changed.items()))
        return {p: None if at is None else round((at - sent) * 1000, 1)
                for p, at in zip(changed, seen, strict=True)}
    finally:
        for watch in watches.values():
            watch.forget(sku)


# --- coalescing under a burst ---------------------------------------------------------------------


async def _burst(base: str, headers: dict[str, str], api: httpx.AsyncClient, check: Checker,
                 desired: dict[str, dict[str, int]], result: dict[str, Any]) -> None:
    """Fills ``result`` as it goes."""
    hot = sorted(desired["amazon"], key=lambda sku: (-desired["amazon"][sku], sku))[:BURST_SKUS]
    for sku in hot:  # so that every order of the burst moves stock, to its end
        (await api.post("/api/v1/stock/receipts", json={
            "sku": sku, "location": "WH-EAST", "quantity": BURST_RESTOCK, "reference": "benchmark burst",
        })).raise_for_status()
    await check.converged(time.monotonic() + CONVERGE_TIMEOUT, every=0.25)
    before = await check.settled_counters()
    _say(f"threadcount-sync: burst, {BURST_CLIENTS} clients on {BURST_SKUS} SKUs for {BURST_SECONDS:g} s")
    statuses: dict[str, int] = {}
    errors: list[str] = []
    run_id = secrets.token_hex(4)
    connector = aiohttp.TCPConnector(limit=BURST_CLIENTS)
    async with aiohttp.ClientSession(connector=connector, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        began = time.monotonic()
        stop_at = began + BURST_SECONDS

        async def client(n: int) -> None:
            rng, seq = random.Random(n), 0
            while time.monotonic() < stop_at:
                seq += 1
                body = {"channel": "direct", "external_id": f"bench-burst-{run_id}-{n}-{seq}",
                        "lines": [{"sku": rng.choice(hot), "quantity": 1}]}
                try:
                    async with session.post(f"{base}/api/v1/orders", json=body) as resp:
                        raw = await resp.read()
                        key = f"HTTP {resp.status}"
                        if resp.status == 201:
                            key = str(json.loads(raw).get("status", "?"))
                        elif len(errors) < 5:
                            errors.append(f"HTTP {resp.status}: {raw[:200].decode(errors='replace')}")
                except (aiohttp.ClientError, OSError, ValueError) as exc:
                    key = "failed"
                    if len(errors) < 5:
                        errors.append(f"{type(exc).__name__}: {exc}")
                statuses[key] = statuses.get(key, 0) + 1

        await asyncio.gather(*(client(n) for n in range(BURST_CLIENTS)))
        ended = time.monotonic()
    placed = statuses.get("reserved", 0)
    result.update(
        clients=BURST_CLIENTS, skus=hot, restocked_per_sku=BURST_RESTOCK, seconds=round(ended - began, 2),
        orders=placed, orders_per_s=round(placed / (ended - began), 1), statuses=statuses,
        error_samples=errors,
    )
    _say(f"threadcount-sync: {placed} orders in {ended - began:.2f} s; waiting for every simulator")
    # Converged against the stock itself: only the hot SKUs moved, and the stored desired quantities
    # are what the service reports, not what is true (see stale_desired).
    converged_at, expected = await check.converged(ended + CONVERGE_TIMEOUT, every=0.05, skus=hot)
    result["end_to_converged_s"] = round(converged_at - ended, 2)
    stored = await asyncio.gather(*(desired_quantities(api, p) for p in PARTNERS))
    result["stale_desired"] = [
        f"{p} {sku}: listings say desired {rows.get(sku)}, the stock says {quantity}"
        for p, rows in zip(PARTNERS, stored, strict=True) for sku, quantity in expected[p].items()
        if rows.get(sku) != quantity
    ]
    after = await check.settled_counters()
    delta = {p: {k: after[p][k] - before[p][k] for k in COUNTERS} for p in PARTNERS}
    total = {k: sum(delta[p][k] for p in PARTNERS) for k in COUNTERS}
    result.update(
        desired_changes=total["desired_changes"],
        listings_pushed=total["listings_pushed"],
        pushes=total["pushes"],
        pushes_saved_by_coalescing=total["pushes_saved_by_coalescing"],
        changes_per_listing_pushed=(round(total["desired_changes"] / total["listings_pushed"], 1)
                                    if total["listings_pushed"] else None),
        per_partner=delta,
    )
