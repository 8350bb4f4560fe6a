"""Logging for every Threadcount process: the web process (service/logs.py) and each Ray actor (in its
__init__, from the environment its worker inherits). `text` (the default) or `json`: one JSON object
a line with ts, level, logger, message, process and, when known, request_id / trace_id (the current
span's trace while traces are on, actors/tracing.py; else that of the request's `traceparent`). Lines
go to stderr and, with a log folder, to a rotating file of the process's own there."""

from __future__ import annotations

import contextvars
import json
import logging
import logging.handlers
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from actors import tracing

FORMAT_VARIABLE = "THREADCOUNT_LOG_FORMAT"
DIR_VARIABLE = "THREADCOUNT_LOG_DIR"  # set by the service for its actors: DATA_DIR/logs
FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(process_name)s %(name)s: %(message)s"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
# Our own loggers log at INFO; everybody else's (uvicorn, Ray, libraries) only at WARNING and up.
OURS = ("threadcount", "inventory", "actors", "sync", "connectors", "store", "service", "web")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
trace_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace_id", default=None)


class Context(logging.Filter):
    """Stamps each record with the process's name and the request/trace ids of the current context."""

    def __init__(self, process: str):
        super().__init__()
        self.process = process

    def filter(self, record: logging.LogRecord) -> bool:
        record.process_name = self.process
        record.request_id = request_id.get()
        record.trace_id = tracing.trace_id() or trace_id.get()
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
            "process": getattr(record, "process_name", None), "pid": record.process,
        }
        for key in ("request_id", "trace_id"):
            if getattr(record, key, None):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def reason(exc: BaseException) -> str:
    """An exception's message for a log line, or its type's name when it has none (a timeout's is
    empty: `exc or ...` would print nothing, an exception being always true)."""
    return str(exc) or type(exc).__name__


def log_format(value: str | None) -> str:
    """The format named, or ValueError naming the variable and the choices."""
    chosen = (value or "text").strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"{FORMAT_VARIABLE} (logging.format) must be text or json, not {value!r}")
    return chosen


def configure(process: str, fmt: str = "text", log_dir: Path | None = None,
              file_name: str | None = None, stderr: bool = True) -> Path | None:
    """Replace the root logger's handlers: stderr and/or DIR/FILE_NAME (rotating). Returns the file."""
    formatter: logging.Formatter = JsonLines() if log_format(fmt) == "json" else logging.Formatter(TEXT)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)] if stderr else []
    path = None
    if log_dir is not None:
        try:
            log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = log_dir / (file_name or f"{process}.log")
            handlers.append(logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES,
                                                                 backupCount=BACKUPS, encoding="utf-8"))
        except OSError as exc:  # no file then; stderr still has everything
            path = None
            print(f"threadcount: cannot write logs into {log_dir}: {exc.strerror}", file=sys.stderr)
    context = Context(process)
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(context)
        root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in OURS:
        logging.getLogger(name).setLevel(logging.INFO)
    return path


def in_ray_actor() -> bool:
    try:
        import ray

        return ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None
    except Exception:  # no Ray, or not in a worker: not an actor
        return False


def configure_actor(process: str) -> None:
    """In an actor's __init__: the format and folder the service put in the environment. The actor's
    stderr lands in Ray's session folder (not on the terminal), its file in DATA_DIR/logs/. Outside
    a Ray actor (the classes used directly, in tests) nothing changes."""
    if not in_ray_actor():
        return
    folder = os.environ.get(DIR_VARIABLE)
    try:
        fmt = log_format(os.environ.get(FORMAT_VARIABLE))
    except ValueError:
        fmt = "text"
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in process)
    configure(process, fmt, Path(folder) if folder else None, f"{safe}.log")
