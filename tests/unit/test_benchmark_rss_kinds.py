"""The soak's memory sampler (tests/benchmark/rss_kinds.py): each process of the service's tree by kind."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import psutil

from tests.benchmark.rss_kinds import Sample, growth_table, kind_of, sample

MB = 2**20


@dataclass
class FakeProcess:
    argv: list[str]
    rss: int = 10 * MB
    files: list[str] = field(default_factory=list)
    gone: bool = False

    def cmdline(self) -> list[str]:
        if self.gone:
            raise psutil.NoSuchProcess(1)
        return self.argv

    def memory_info(self) -> Any:
        if self.gone:
            raise psutil.NoSuchProcess(1)
        return SimpleNamespace(rss=self.rss)

    def open_files(self) -> list[Any]:
        return [SimpleNamespace(path=path) for path in self.files]


def test_each_process_is_named_by_what_it_is_to_threadcount() -> None:
    python = "/usr/bin/python3"
    assert kind_of(FakeProcess([python, "run.py"])) == "web"
    assert kind_of(FakeProcess([python, "/srv/threadcount/run.py", "worker", "--config", "c.yaml"])) == "web worker"
    assert kind_of(FakeProcess(["/site-packages/ray/core/src/ray/gcs/gcs_server", "--port=1"])) == "gcs_server"
    assert kind_of(FakeProcess(["/site-packages/ray/core/src/ray/raylet/raylet", "--x"])) == "raylet"
    assert kind_of(FakeProcess([python, "-u", "/ray/_private/log_monitor.py"])) == "log_monitor"
    assert kind_of(FakeProcess([python, "-m", "simulators", "/tmp/plan.json"])) == "simulators"
    assert kind_of(FakeProcess([python, "/ray/dashboard/dashboard.py", "--x"])) == "ray_dashboard_head"
    ray_logs = "/tmp/ray/session_2026-12-02_09-51-02_978400_11590/logs/python-core-worker-53fd_11797.log"
    shard = FakeProcess(["ray::StockShard.apply_packed", ""], files=[ray_logs, "/data/logs/shard-1.log"])
    assert kind_of(shard) == "shard-1"
    assert kind_of(FakeProcess(["ray::IDLE", ""])) == "ray::IDLE"
    assert kind_of(FakeProcess(["ray::PartnerConnector"], files=["/data/logs/threadcount.log"])) == "ray::PartnerConnector"


def test_processes_of_one_kind_are_summed_and_a_vanished_one_skipped() -> None:
    found = sample([FakeProcess(["ray::IDLE"], 5 * MB), FakeProcess(["ray::IDLE"], 7 * MB),
                    FakeProcess(["x", "run.py"], 100 * MB), FakeProcess(["ray::IDLE"], gone=True)])
    assert found.rss == {"ray::IDLE": 12 * MB, "web": 100 * MB}
    assert found.count == {"ray::IDLE": 2, "web": 1}
    assert found.total == 112 * MB


def test_the_table_shows_start_end_and_growth_per_kind_and_in_total() -> None:
    start = Sample({"web": 100 * MB, "gcs_server": 50 * MB}, {"web": 1, "gcs_server": 1})
    end = Sample({"web": 110 * MB, "gcs_server": 250 * MB}, {"web": 1, "gcs_server": 1})
    lines = growth_table(start, end, [(0.0, start), (30.0, end)])
    assert lines[1].split()[:5] == ["gcs_server", "1", "50.0", "250.0", "+200.0"]
    assert lines[2].split()[:5] == ["web", "1", "100.0", "110.0", "+10.0"]
    assert lines[3].split()[:5] == ["total", "2", "150.0", "360.0", "+210.0"]
    assert lines[3].split()[5:] == ["150", "360"]
