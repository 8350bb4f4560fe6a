"""The demo as an operator runs it, with JSON logs: /readyz says ready when every part answers and
names the partner whose actor does not; each request carries an X-Request-Id that its log lines name;
the logs are JSON lines in DATA_DIR/logs/, the simulators' in DATA_DIR/simulators.log; the demo's
reorder points show low stock from the start; Ray's noise stays off stderr and a stop is INFO. Traced
(OTEL_EXPORTER_OTLP_ENDPOINT pointed at a receiver here): an order's trace, as the collector gets it
from the web process, a shard actor and the partners' connector actors."""

from __future__ import annotations

import json
import os
import re
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.version import VERSION
from tests.e2e.conftest import Service, start_service
from tests.e2e.partner_demo import PARTNERS, a_sku_with_stock, all_listed, wait_for
from tests.harness.otlp import Collected, Received, threaded_receiver


@pytest.fixture(scope="module")
def traces() -> Iterator[Collected]:
    with threaded_receiver(keep=True) as (_url, collected):
        yield collected


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory, traces: Collected) -> Iterator[Service]:
    running = start_service(tmp_path_factory.mktemp("ops"), demo=True,
                            extra_env={"THREADCOUNT_SHOPPERS": "0", "THREADCOUNT_LOG_FORMAT": "json",
                                       "OTEL_EXPORTER_OTLP_ENDPOINT": traces.url,
                                       "OTEL_BSP_SCHEDULE_DELAY": "200"})
    yield running
    running.process.stop()


@pytest.fixture(scope="module")
def api(ops: Service) -> Iterator[httpx.Client]:
    with ops.client() as client:
        wait_for(lambda: all_listed(client), 90, "every partner listed")
        yield client


def ready(ops: Service, **headers: str) -> httpx.Response:
    return httpx.get(f"{ops.base}/readyz", headers=headers, timeout=10)


def json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_readyz_is_ready_with_a_check_for_each_part_and_each_partner_without_a_token(
        ops: Service, api: httpx.Client) -> None:
    answer = wait_for(lambda: (r := ready(ops)).status_code == 200 and r, 60, "ready")
    assert answer.json() == {"status": "ready", "checks": {
        "shards": "ok", "hub": "ok", "database": "ok", **{f"partner:{p}": "ok" for p in PARTNERS}}}


def test_a_partner_actor_that_does_not_answer_makes_readyz_503_naming_it_and_the_log_names_the_request(
        ops: Service, api: httpx.Client) -> None:
    pid = wait_for(lambda: {p["id"]: p for p in api.get("/api/v1/partners").json()}["etsy"]["sync"].get("pid"),
                   60, "the etsy actor's pid")
    os.kill(pid, signal.SIGSTOP)
    try:
        answer = ready(ops, **{"X-Request-Id": "ready-probe-1"})
    finally:
        os.kill(pid, signal.SIGCONT)
    assert answer.status_code == 503 and answer.headers["x-request-id"] == "ready-probe-1"
    checks = answer.json()["checks"]
    assert answer.json()["status"] == "not_ready" and checks["partner:etsy"] == "failed"
    assert {name for name, state in checks.items() if state != "ok"} == {"partner:etsy"}
    assert answer.elapsed.total_seconds() < 3  # the checks are asked at once, each for about a second
    logged = [line for line in json_lines(ops.data_dir / "logs" / "threadcount.log")
              if line.get("request_id") == "ready-probe-1"]
    assert logged and "partner:etsy" in logged[0]["message"] and logged[0]["process"] == "web"
    wait_for(lambda: ready(ops).status_code == 200, 30, "ready again once the actor answers")


def test_every_answer_carries_a_request_id_the_callers_when_it_is_a_plain_token(ops: Service, api: httpx.Client) -> None:
    assert api.get("/api/v1/version", headers={"X-Request-Id": "abc.DEF-123:4"}).headers["x-request-id"] == "abc.DEF-123:4"
    made = api.get("/api/v1/version").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    replaced = api.get("/api/v1/version", headers={"X-Request-Id": "a b<script>"}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)


def test_the_version_route_answers_the_packages_version(api: httpx.Client) -> None:
    assert api.get("/api/v1/version").json() == {"version": VERSION}
    assert api.get("/api/v1/openapi.json").json()["info"]["version"] == VERSION


def test_the_demo_sets_reorder_points_and_some_variants_are_low_from_the_start(api: httpx.Client) -> None:
    variants = api.get("/api/v1/products/FSHEET-COT").json()["variants"]
    assert any(v["reorder_point"] is not None for v in variants)
    low = wait_for(lambda: [a for a in api.get("/api/v1/alerts").json() if a["kind"] == "low_stock"], 30,
                   "low-stock alerts")
    assert len(low) >= 5


def test_logs_are_json_lines_in_the_data_folder_for_the_web_process_and_the_simulators(
        ops: Service, api: httpx.Client) -> None:
    folder = ops.data_dir / "logs"
    lines = json_lines(folder / "threadcount.log")
    assert lines and all({"ts", "level", "logger", "message", "process"} <= set(line) for line in lines)
    wanted = {"shard-0.log", "shard-1.log", "hub.log", "partner-etsy.log"}  # a partner's once its actor has logged
    wait_for(lambda: wanted <= {p.name for p in folder.iterdir()}, 60, f"the logs {sorted(wanted)}", every=0.2)
    simulators = json_lines(ops.data_dir / "simulators.log")
    assert {p for p in PARTNERS if any(f"simulator {p} listening" in line["message"] for line in simulators)} == set(PARTNERS)


def test_an_orders_trace_runs_from_its_request_through_a_shard_to_the_partners_pushes(
        api: httpx.Client, traces: Collected) -> None:
    sku = a_sku_with_stock(api, "shopify")
    trace_id, caller = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    answer = api.post("/api/v1/orders", headers={"traceparent": f"00-{trace_id}-{caller}-01"},
                      json={"channel": "direct", "external_id": f"traced-{trace_id}", "lines": [{"sku": sku, "quantity": 1}]})
    assert answer.status_code == 201
    # each process exports on its own schedule: the partner's push can arrive before the web's spans
    wanted = {"POST /api/v1/orders", "shard.call", "shard.batch", "partner.push"}
    spans = traces.wait_for(lambda got: wanted <= {s.name for s in got if s.trace_id == trace_id}, 60)
    ours = [s for s in spans if s.trace_id == trace_id]
    (request,) = [s for s in ours if s.name == "POST /api/v1/orders"]
    (call,) = [s for s in ours if s.name == "shard.call"]
    (batch,) = [s for s in ours if s.name == "shard.batch"]
    assert (request.process, request.parent_id, call.process, call.parent_id) == ("web", caller, "web", request.span_id)
    assert batch.process.startswith("shard-") and batch.parent_id == call.span_id
    assert [s for s in spans if s.name == "shard.commit" and under(s, batch)]  # parent, or a link if grouped
    pushes = [s for s in ours if s.name == "partner.push"]
    assert pushes and all(s.parent_id == batch.span_id and s.process.startswith("partner-") for s in pushes)


def under(span: Received, parent: Received) -> bool:
    return (span.trace_id, span.parent_id) == (parent.trace_id, parent.span_id) or \
        (parent.trace_id, parent.span_id) in span.links


def test_rays_noise_stays_off_stderr_and_a_stop_is_logged_at_info(ops: Service, api: httpx.Client) -> None:
    stopped = ops.process.stop()
    assert stopped is not None and stopped.exit_code == 0
    output = ops.process.log_path.read_text()
    for noise in ("SIGTERM handler", "Started a local Ray instance", "RAY_AUTH", "worker.py"):
        assert noise not in output
    stderr_lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(line["message"].startswith("stopped in") and line["level"] == "INFO" for line in stderr_lines)
