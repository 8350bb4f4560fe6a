"""Resident memory of a service's process tree, summed by kind of process.

A kind is what the process is to Threadcount: `web` (run.py: web app, ingress, the driver), `web
worker` (`run.py worker`, THREADCOUNT_WEB_WORKERS), Ray's own
`gcs_server`, `raylet` and its helpers (by their program), each actor by the log file it writes
(`DATA_DIR/logs/shard-0.log` -> `shard-0`, `hub`, `partner-etsy`: an actor's name is knowable that
way without asking Ray), other Ray workers by their title (`ray::IDLE`), and the partner `simulators`.
Several processes of one kind (idle workers) are summed, with their count.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Protocol

import psutil

# Ray's own programs, by the file name of the binary or the script (the first few arguments)
RAY_PROGRAMS = {"gcs_server": "gcs_server", "raylet": "raylet", "log_monitor.py": "log_monitor",
                "monitor.py": "ray_monitor", "dashboard.py": "ray_dashboard_head"}


class ProcessLike(Protocol):
    def cmdline(self) -> list[str]: ...
    def memory_info(self) -> Any: ...
    def open_files(self) -> list[object]: ...


def _actor_log(process: ProcessLike) -> str | None:
    """`shard-0` for a worker that has DATA_DIR/logs/shard-0.log open."""
    with contextlib.suppress(psutil.Error, OSError):
        for opened in process.open_files():
            path = PurePath(str(getattr(opened, "path", "")))
            ray_session = path.parent.parent.name.startswith("session_")  # Ray's own logs/ folder
            if path.suffix == ".log" and path.parent.name == "logs" and not ray_session \
                    and path.stem != "threadcount":
                return path.stem
    return None


def kind_of(process: ProcessLike) -> str:
    """What the process is (see the module docstring); `other` when not known."""
    try:
        argv = process.cmdline()
    except (psutil.Error, OSError):
        return "gone"
    joined = " ".join(argv)
    if joined.startswith("ray::"):
        return _actor_log(process) or argv[0].split(" ")[0].split(".")[0]
    for arg in argv[:3]:
        if (program := RAY_PROGRAMS.get(PurePath(arg).name)) is not None:
            return program
    if "simulators" in argv:
        return "simulators"
    for at, arg in enumerate(argv):
        if arg.endswith("run.py"):
            return "web worker" if argv[at + 1:at + 2] == ["worker"] else "web"
    return PurePath(argv[0]).name if argv else "other"


@dataclass
class Sample:
    """Bytes and process count per kind at one moment."""

    rss: dict[str, int] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rss.values())


def sample(processes: Iterable[ProcessLike]) -> Sample:
    found = Sample()
    for process in processes:
        try:
            rss = int(process.memory_info().rss)
        except (psutil.Error, OSError):
            continue
        kind = kind_of(process)
        found.rss[kind] = found.rss.get(kind, 0) + rss
        found.count[kind] = found.count.get(kind, 0) + 1
    return found


def mb(value: int) -> float:
    return round(value / 2**20, 1)


def growth_table(start: Sample, end: Sample, middle: Sequence[tuple[float, Sample]] = ()) -> list[str]:
    """Lines: kind, processes, MB at start and at end, growth; the samples between as a trail."""
    kinds = sorted(set(start.rss) | set(end.rss), key=lambda k: -end.rss.get(k, 0))
    lines = [f"{'kind':<22}{'procs':>6}{'start MB':>10}{'end MB':>9}{'growth':>9}  every 30 s (MB)"]
    for kind in [*kinds, "total"]:
        first = start.total if kind == "total" else start.rss.get(kind, 0)
        last = end.total if kind == "total" else end.rss.get(kind, 0)
        procs = sum(end.count.values()) if kind == "total" else end.count.get(kind, 0)
        trail = " ".join(f"{mb(s.total if kind == 'total' else s.rss.get(kind, 0)):.0f}" for _, s in middle)
        lines.append(f"{kind:<22}{procs:>6}{mb(first):>10.1f}{mb(last):>9.1f}{mb(last - first):>+9.1f}  {trail}")
    return lines
