"""The service as a process: the demo start, clean stops, a SIGKILL mid-storm, refusals at start."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import REPO, Service, start_service


def test_the_demo_start_seeds_a_sheets_and_linens_catalog_and_sigterm_stops_it_cleanly(tmp_path: Path) -> None:
    started = time.monotonic()
    running = start_service(tmp_path / "demo", demo=True)
    ready_after = time.monotonic() - started
    try:
        with running.client() as api:
            locations = api.get("/api/v1/locations").json()
            assert sorted(loc["kind"] for loc in locations) == ["store", "warehouse", "warehouse"]
            sheet = api.get("/api/v1/products/FSHEET-PER").json()
            assert {v["size"] for v in sheet["variants"]} >= {"twin", "queen", "king"}
            assert api.get(f"/api/v1/variants/{sheet['variants'][0]['sku']}/stock").json()["on_hand"] >= 0
            assert len(api.get("/api/v1/ledger", params={"limit": 1000}).json()) > 500
        products = subprocess.run(
            [sys.executable, "-c", "from service.demo import demo_products as d; "
             "p = d(); print(len(p), sum(len(v) for _, _, v in p))"],
            capture_output=True, text=True, check=True, cwd=REPO).stdout.split()
        assert int(products[0]) >= 24 and int(products[1]) >= 300
    finally:
        stopped = running.process.stop(timeout=15)
    assert ready_after < 30
    assert stopped is not None and stopped.exit_code == 0 and not stopped.killed
    assert stopped.seconds is not None and stopped.seconds < 15
    assert stopped.leftover_processes == 0  # no shard worker outlives the service


def test_the_service_sigkilled_mid_storm_and_restarted_loses_no_acknowledged_order(tmp_path: Path) -> None:
    data = tmp_path / "crash"
    running = start_service(data)
    skus = _catalog(running)
    acknowledged: dict[str, tuple[str, str]] = {}
    stop = threading.Event()

    def client(n: int) -> None:
        with running.client() as api:
            i = 0
            while not stop.is_set():
                external_id, sku, i = f"{n}-{i}", skus[i % len(skus)], i + 1
                try:
                    answer = api.post("/api/v1/orders", json={"channel": "direct", "external_id": external_id,
                                                              "lines": [{"sku": sku, "quantity": 1}]})
                except httpx.HTTPError:
                    return  # the server is gone: this one was never acknowledged
                if answer.status_code == 201:
                    acknowledged[external_id] = (answer.json()["id"], sku)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    os.killpg(running.process.pid, signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(10)
    running.process.stop()
    assert len(acknowledged) > 200

    restarted = start_service(data, ports=_ports(running))
    try:
        with restarted.client() as api:
            for external_id, (order_id, _) in acknowledged.items():
                found = api.get(f"/api/v1/orders/{order_id}")
                assert found.status_code == 200, f"acknowledged order {external_id} was lost"
                assert found.json()["status"] == "reserved"
            assert api.get("/api/v1/ledger/check").json()["ok"] is True
            reserved = sum(api.get(f"/api/v1/variants/{sku}/stock").json()["reserved"] for sku in skus)
            assert reserved >= len(acknowledged)
            for external_id, (order_id, sku) in list(acknowledged.items())[:100]:
                again = api.post("/api/v1/orders", json={"channel": "direct", "external_id": external_id,
                                                         "lines": [{"sku": sku, "quantity": 1}]})
                assert again.status_code == 200 and again.json()["id"] == order_id
            after = sum(api.get(f"/api/v1/variants/{sku}/stock").json()["reserved"] for sku in skus)
            assert after == reserved  # sent again after the crash: answered, not applied twice
        assert restarted.process.signal_and_wait(signal.SIGINT, timeout=15) == 0  # Ctrl-C: a clean stop
    finally:
        restarted.process.stop()


def _ports(service: Service) -> tuple[int, int]:
    return int(service.env["THREADCOUNT_WEB_PORT"]), int(service.env["THREADCOUNT_INGRESS_PORT"])


def _catalog(service: Service) -> list[str]:
    with service.client() as api:
        api.post("/api/v1/locations", json={"code": "WH-EAST", "name": "East", "kind": "warehouse"})
        product = f"P-{uuid.uuid4().hex[:6]}"
        skus = [f"{product}-{i}" for i in range(20)]
        api.post("/api/v1/products", json={"sku": product, "name": "Silk pillowcase",
                                           "variants": [{"sku": s} for s in skus]}).raise_for_status()
        for sku in skus:
            api.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 100_000})
    return skus


def test_joining_a_ray_cluster_with_a_sqlite_store_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    env = {**os.environ, "THREADCOUNT_RAY_ADDRESS": "auto", "THREADCOUNT_DATA_DIR": str(tmp_path)}
    env.pop("THREADCOUNT_DATABASE_URL", None)
    done = subprocess.run([sys.executable, str(REPO / "run.py")], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "PostgreSQL" in done.stderr and "SQLite" in done.stderr


def test_the_check_command_proves_the_ledger_on_a_stopped_store(tmp_path: Path) -> None:
    env = {**os.environ, "THREADCOUNT_DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, str(REPO / "run.py"), "check"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stdout


@pytest.mark.postgres
async def test_the_service_runs_on_postgresql_given_by_url(tmp_path: Path) -> None:
    from tests.conftest import postgres_database

    async with postgres_database() as url:
        running = start_service(tmp_path / "pg", extra_env={"THREADCOUNT_DATABASE_URL": url})
        try:
            skus = _catalog(running)
            async with running.async_client() as api:
                placed = await api.post("/api/v1/orders", json={
                    "channel": "direct", "external_id": "pg-1", "lines": [{"sku": skus[0], "quantity": 3}]})
                assert placed.status_code == 201 and placed.json()["status"] == "reserved"
                stock = (await api.get(f"/api/v1/variants/{skus[0]}/stock")).json()
                assert (stock["on_hand"], stock["reserved"]) == (100_000, 3)
                assert (await api.get("/api/v1/ledger/check")).json()["ok"] is True
            assert not (tmp_path / "pg" / "threadcount.db").exists()
        finally:
            stopped = running.process.stop()
        assert stopped is not None and stopped.exit_code == 0


def test_health_answers_503_until_an_order_can_be_taken(tmp_path: Path) -> None:
    from tests.harness.procs import ServerProcess, free_ports

    web_port, ingress_port = free_ports(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADCOUNT_")}
    env.update(THREADCOUNT_DATA_DIR=str(tmp_path), THREADCOUNT_WEB_PORT=str(web_port),
               THREADCOUNT_INGRESS_PORT=str(ingress_port), THREADCOUNT_DEMO="0")
    process = ServerProcess("starting", [sys.executable, str(REPO / "run.py")], env=env,
                            log_path=tmp_path / "starting.log")
    process.start()
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while 200 not in seen and time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                seen.add(httpx.get(f"http://127.0.0.1:{web_port}/healthz", timeout=1).status_code)
            time.sleep(0.05)
    finally:
        process.stop()
    assert seen == {503, 200}
    assert (tmp_path / "admin_token").stat().st_mode & 0o077 == 0  # the generated token is private
