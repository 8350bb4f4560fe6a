"""The Ray settings that bound a long run's memory (service/ray_options.py) and that an embedded Ray
is started with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service import ray_start
from service.config import load_settings
from service.processes import OWNER_VARIABLE
from service.ray_options import memory_env, memory_options
from service.runtime import Runtime


def test_ray_task_events_are_not_recorded() -> None:
    assert memory_options({}) == {"task_events_report_interval_ms": 0}


def test_a_setting_in_the_environment_is_left_to_it() -> None:
    assert memory_options({"RAY_task_events_report_interval_ms": "1000"}) == {}


def test_the_same_settings_as_variables_for_ray_start() -> None:
    assert memory_env() == {"RAY_task_events_report_interval_ms": "0"}


def _ray_init_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, address: str) -> dict[str, Any]:
    import ray

    seen: dict[str, Any] = {}
    monkeypatch.setattr(ray, "init", lambda address, **options: seen.update(options, address=address))
    monkeypatch.setattr(ray_start, "secure_ray", lambda data_dir, local: {})
    monkeypatch.setenv(OWNER_VARIABLE, "test")  # _init_ray sets these two: restored after the test
    monkeypatch.setenv("RAY_worker_niceness", "0")
    monkeypatch.delenv("RAY_task_events_report_interval_ms", raising=False)
    settings = load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path), "THREADCOUNT_RAY_ADDRESS": address})
    Runtime(settings)._init_ray()
    return seen


def test_an_embedded_ray_is_started_with_task_events_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = _ray_init_options(tmp_path, monkeypatch, "local")
    assert options["address"] == "local"
    assert options["_system_config"]["task_events_report_interval_ms"] == 0


def test_joining_a_cluster_passes_no_system_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Ray refuses _system_config when connecting to an existing cluster: `ray start` takes memory_env()
    assert "_system_config" not in _ray_init_options(tmp_path, monkeypatch, "10.0.0.5:6379")
