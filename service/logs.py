"""Where the service's logs go: the web process's to stderr and DATA_DIR/logs/threadcount.log, each
actor's to DATA_DIR/logs/<actor>.log (actors/logs.py, told the folder and format by the
environment its Ray worker inherits), the demo simulators' to DATA_DIR/simulators.log."""

from __future__ import annotations

import os
from pathlib import Path

from actors.logs import DIR_VARIABLE, FORMAT_VARIABLE, configure, request_id, trace_id

__all__ = ["configure_command", "configure_service", "configure_worker", "log_folder", "request_id",
           "trace_id"]

WEB_LOG = "threadcount.log"


def log_folder(data_dir: Path) -> Path:
    return data_dir / "logs"


def configure_service(fmt: str, data_dir: Path) -> Path | None:
    """The web process's logging, and the environment every process it starts reads its own from."""
    folder = log_folder(data_dir)
    os.environ[FORMAT_VARIABLE] = fmt
    os.environ[DIR_VARIABLE] = str(folder)
    return configure("web", fmt, folder, WEB_LOG)


def configure_worker(fmt: str, data_dir: Path, index: int) -> Path | None:
    """A web worker's: stderr (the primary's) and DATA_DIR/logs/web-worker-<index>.log."""
    return configure(f"web-worker-{index}", fmt, log_folder(data_dir))


def configure_command(fmt: str, command: str) -> None:
    """`check` and `rotate-secrets`: stderr only."""
    configure(command, fmt)
