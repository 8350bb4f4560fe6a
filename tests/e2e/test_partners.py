"""Partner sync end to end: `python run.py` in demo mode with every simulator (shoppers off), over real
HTTP and SFTP: listing, convergence, propagation, reconciliation, failures, killed actors and limits.
Each test leaves the system converged for the next."""

from __future__ import annotations

import os
import signal
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.e2e.conftest import Service
from tests.e2e.partner_demo import (
    LATENCIES,
    PARTNERS,
    a_sku_with_stock,
    all_converged,
    available,
    converged,
    desired,
    order_of,
    shown,
    wait_for,
)
from tests.harness.procs import LOOPBACK, listening


def test_every_partner_is_listed_with_its_simulator_and_capabilities(api: httpx.Client, sims: dict[str, str]) -> None:
    partners = {p["id"]: p for p in api.get("/api/v1/partners").json()}
    for partner in PARTNERS:
        assert partners[partner]["base_url"].startswith("http://127.0.0.1:")
        assert "push" in partners[partner]["capabilities"]
        assert httpx.get(f"{sims[partner]}/_sim/listings", timeout=5).status_code == 200


def test_each_partner_says_what_its_listings_keep_back(api: httpx.Client) -> None:
    wait_for(lambda: all("buffer" in _sync(api, p) for p in ("etsy", "shopify")), 30, "live buffers")
    etsy = _sync(api, "etsy")["buffer"]    # config.yaml: buffer: auto, buffer_min 0, buffer_max 4
    assert (etsy["mode"], etsy["floor"], etsy["ceiling"]) == ("auto", 0, 4)
    assert _sync(api, "shopify")["buffer"] == {"mode": "fixed", "units": 1}


def test_every_socket_the_demo_listens_on_is_on_loopback(demo: Service, sims: dict[str, str]) -> None:
    """run.py's whole process tree: the web port, the ingress, the simulators (HTTP, SFTP, moto's SQS)
    and the embedded Ray (GCS, raylet, workers), which also runs with a private token."""
    sockets = listening(demo.process.tree())
    ports = {port for _, _, port in sockets}
    assert {int(demo.env["THREADCOUNT_WEB_PORT"]), int(demo.env["THREADCOUNT_INGRESS_PORT"])} <= ports
    assert any(name == "gcs_server" for name, _, _ in sockets), sockets
    assert {int(url.rsplit(":", 1)[1]) for url in sims.values()} <= ports  # the simulators'
    assert sum(name.startswith("python") for name, _, _ in sockets) > len(PARTNERS) + 2  # + SFTP, moto
    assert [s for s in sockets if s[1] not in LOOPBACK] == []
    assert (demo.data_dir / "ray_auth_token").stat().st_mode & 0o777 == 0o600


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
        sku = a_sku_with_stock(api, "amazon", at_least=3 + round_no % 3)
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


def test_a_hand_edit_at_the_partner_is_found_and_corrected_by_reconciliation(
        api: httpx.Client, sims: dict[str, str]) -> None:
    all_converged(api, sims)
    sku = a_sku_with_stock(api, "etsy", at_least=1)
    want = desired(api, "etsy")[sku]
    httpx.put(f"{sims['etsy']}/_sim/listings", json={sku: want + 7}, timeout=10).raise_for_status()
    started = api.post("/api/v1/partners/etsy/reconcile")
    assert started.status_code == 202 and started.json()["job"]["status"] in ("running", "done")
    assert started.headers["location"] == f"/api/v1/jobs/{started.json()['job']['id']}"
    job = finished_job(api, started.headers["location"])
    assert job["status"] == "done" and job["partner"] == "etsy", job
    assert job["result"]["corrected"] >= 1 and job["result"]["checked"] >= 1
    wait_for(lambda: shown(sims["etsy"]).get(sku) == want, 10, "etsy shows the desired quantity again")
    log = api.get("/api/v1/partners/etsy/sync-log").json()
    assert any(row["kind"] == "reconcile" and sku in row["message"] for row in log)


def finished_job(api: httpx.Client, location: str, timeout: float = 60) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = api.get(location).json()["job"]
        return job if job["status"] != "running" else None
    found: dict[str, Any] = wait_for(ended, timeout, f"the job at {location} ends", every=0.2)
    return found


def test_a_slow_reconcile_answers_at_once_and_a_second_one_meanwhile_returns_the_running_job(
        api: httpx.Client, sims: dict[str, str]) -> None:
    all_converged(api, sims)
    httpx.post(f"{sims['etsy']}/_sim/faults", json={"latency_ms": 1500}, timeout=5).raise_for_status()
    try:
        asked = time.monotonic()
        first, second = api.post("/api/v1/partners/etsy/reconcile"), api.post("/api/v1/partners/etsy/reconcile")
        assert time.monotonic() - asked < 1.5 and (first.status_code, second.status_code) == (202, 202)
        assert first.json()["job"]["status"] == "running" and second.json() == first.json()
    finally:
        httpx.post(f"{sims['etsy']}/_sim/faults", json={"latency_ms": 0}, timeout=5).raise_for_status()
    assert finished_job(api, first.headers["location"])["status"] == "done"
    assert api.get("/api/v1/jobs/no-such-job").status_code == 404


def test_a_reconcile_of_a_partner_that_is_down_ends_failed_saying_why(api: httpx.Client, sims: dict[str, str]) -> None:
    all_converged(api, sims)
    httpx.post(f"{sims['etsy']}/_sim/faults", json={"down": True}, timeout=5).raise_for_status()
    try:
        job = finished_job(api, api.post("/api/v1/partners/etsy/reconcile").headers["location"])
    finally:
        httpx.post(f"{sims['etsy']}/_sim/faults", json={"down": False}, timeout=5).raise_for_status()
    assert job["status"] == "failed" and "etsy could not be read" in job["error"] and "result" not in job
    api.post("/api/v1/partners/etsy/retry")
    wait_for(lambda: converged(api, sims, "etsy"), 60, "etsy converges after it is back", every=0.5)


def test_a_failing_partner_does_not_slow_the_others_and_converges_after_it_recovers(
        api: httpx.Client, sims: dict[str, str]) -> None:
    all_converged(api, sims)
    httpx.post(f"{sims['etsy']}/_sim/faults", json={"error_rate": 1.0}, timeout=5).raise_for_status()
    try:
        failing_since = time.monotonic()
        while time.monotonic() - failing_since < 30:
            sku = a_sku_with_stock(api, "amazon", at_least=2)
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
    wait_for(lambda: order_of(api, "amazon", placed["order_id"]), 30, "the queued amazon order taken", every=0.5)
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
