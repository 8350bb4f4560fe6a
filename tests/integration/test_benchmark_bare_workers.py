"""The bare-app comparison (tests/benchmark/bare_workers.py) really runs one and two processes of a
Starlette app on a port each, the load alternating between them: every answer is counted, the two
processes share the second port's connections, and each run's CPU a request is measured."""

from __future__ import annotations

import pytest

from tests.benchmark.bare_workers import _parse_args, compare

pytestmark = pytest.mark.integration


def test_one_and_two_bare_processes_answer_the_same_load_in_turn_and_two_share_the_connections() -> None:
    result = compare(_parse_args(["--pairs", "1", "--duration", "0.6", "--warmup", "0.2", "--clients", "16"]))
    one, two = result["sides"]
    assert (one["processes"], two["processes"]) == (1, 2)
    assert one["requests_per_s"][0] > 100 and two["requests_per_s"][0] > 100
    assert set(one["answered_by"][0]) == {"0"}
    # 16 connections hashed over two sockets: both take some (all on one: 2 in 65,536)
    assert set(two["answered_by"][0]) == {"0", "1"}
    assert one["cpu_ms_per_request"][0] > 0 and two["cpu_ms_per_request"][0] > 0
    assert len(result["ratios"]) == 1 and len(result["cpu"]["ratios"]) == 1
