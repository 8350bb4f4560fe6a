"""What failover is configured with: the call timeout, the shard count of a cluster, the placement
of actors, Ray's health checks, and the 503 that tells a client when to try again."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request

from inventory.desk import ShardUnavailable
from service.config import ConfigError, load_settings
from service.ray_start import HEALTH_CHECKS, cluster_shard_count, health_env, placement, shard_count
from web.app import unavailable


def settings(tmp_path: Path, env: dict[str, str] | None = None, text: str = "") -> Any:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_settings(path, env=env or {})


def test_the_call_timeout_is_3_s_unless_the_file_or_the_environment_says_otherwise(tmp_path: Path) -> None:
    assert settings(tmp_path).call_timeout == 3.0
    assert load_settings(None, env={}).call_timeout == 3.0
    assert settings(tmp_path, text="ray:\n  call_timeout_s: 2.5\n").call_timeout == 2.5
    assert settings(tmp_path, {"THREADCOUNT_CALL_TIMEOUT": "1.5"}, "ray:\n  call_timeout_s: 2.5\n").call_timeout == 1.5
    with pytest.raises(ConfigError, match=r"ray\.call_timeout_s"):
        settings(tmp_path, {"THREADCOUNT_CALL_TIMEOUT": "0"})


def test_a_cluster_has_one_shard_per_cpu_of_the_cluster_unless_the_count_is_given(tmp_path: Path) -> None:
    assert [cluster_shard_count(r) for r in ({"CPU": 6.0}, {"CPU": 2.6}, {"CPU": 0.2}, {})] == [6, 3, 1, 1]
    local = settings(tmp_path)
    assert not local.shards_given and shard_count(local) == local.shards  # this machine's CPUs, as before
    given = settings(tmp_path, {"THREADCOUNT_SHARDS": "3", "THREADCOUNT_RAY_ADDRESS": "10.0.0.1:6379"})
    assert given.shards_given and shard_count(given) == 3  # asks no cluster
    assert settings(tmp_path, text="ray:\n  shards: 5\n").shards_given


def test_shards_and_connectors_are_spread_across_the_nodes_of_a_cluster_only(tmp_path: Path) -> None:
    local = settings(tmp_path)
    assert placement(local) == {}
    cluster = replace(local, ray_address="auto")
    assert placement(cluster) == {"scheduling_strategy": "SPREAD"}
    spread = [placement(cluster, i, ["aa" * 28, "bb" * 28])["scheduling_strategy"] for i in range(3)]
    assert [(s.node_id, s.soft) for s in spread] == [("aa" * 28, True), ("bb" * 28, True), ("aa" * 28, True)]


def test_a_node_cut_off_the_network_is_declared_dead_within_3_s_but_not_for_a_stall_under_2_5_s() -> None:
    period, timeout, threshold = (HEALTH_CHECKS[f"health_check_{name}"]
                                  for name in ("period_ms", "timeout_ms", "failure_threshold"))
    # each failed check of a silent node waits out its timeout, then the period before the next
    # one; the first may come up to a period after the node went silent
    cut_ms = period + threshold * timeout + (threshold - 1) * period
    assert cut_ms <= 3000  # leaves 2 s of the 5 s goal for the restart elsewhere
    # a node declared dead must have missed every check for this long: a loaded machine's short stall is not enough
    assert threshold * timeout + (threshold - 1) * period >= 2500


def test_the_health_checks_go_to_ray_start_as_the_ray_variables_of_the_same_names() -> None:
    assert health_env() == {"RAY_health_check_period_ms": "500", "RAY_health_check_timeout_ms": "500",
                            "RAY_health_check_failure_threshold": "3"}


async def test_a_shard_that_does_not_answer_is_a_503_with_retry_after_that_says_a_retry_is_safe() -> None:
    request = Request({"type": "http", "method": "POST", "path": "/api/v1/orders", "headers": [],
                       "query_string": b""})
    answer = await unavailable(request, ShardUnavailable("stock shard 1 did not answer within 3 s"))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    body = bytes(answer.body)
    assert json.loads(body)["error"] == {
        "code": "unavailable",
        "message": "stock shard 1 did not answer within 3 s; retrying the same request is safe"}
