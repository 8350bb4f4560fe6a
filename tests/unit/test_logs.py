"""Log lines as the operator reads them: JSON lines with the fields README names (the request's ids
when known), a rotating file in the log folder beside stderr, the format read from config.yaml or
THREADCOUNT_LOG_FORMAT, and request ids taken from the caller only when they are plain tokens."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.logs import OURS, configure, configure_actor, request_id, trace_id
from service.config import ConfigError, load_settings
from web.request_ids import chosen_id, trace_of


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    ours = {name: logging.getLogger(name).level for name in OURS}
    yield
    for name, was in ours.items():
        logging.getLogger(name).setLevel(was)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_json_lines_carry_the_fields_and_the_request_and_trace_ids_when_known(
        tmp_path: Path, restored_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    path = configure("web", "json", tmp_path / "logs", "threadcount.log")
    assert path == tmp_path / "logs" / "threadcount.log"
    logging.getLogger("service.something").info("outside a request")
    token, trace = request_id.set("req-1"), trace_id.set("0af7651916cd43dd8448eb211c80319c")
    try:
        logging.getLogger("web.something").warning("inside %s", "a request")
    finally:
        request_id.reset(token)
        trace_id.reset(trace)
    logging.getLogger("uvicorn.something").info("a library's info is not shown")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["message"] for line in lines] == ["outside a request", "inside a request"]
    assert {"ts", "level", "logger", "message", "process", "pid"} <= set(lines[0])
    assert "request_id" not in lines[0] and lines[0]["process"] == "web" and lines[0]["level"] == "INFO"
    assert (lines[1]["request_id"], lines[1]["trace_id"]) == ("req-1", "0af7651916cd43dd8448eb211c80319c")
    assert capsys.readouterr().err.count("\n") == 2  # stderr too


def test_text_stays_the_default_and_a_bad_format_is_refused_naming_the_variable(tmp_path: Path) -> None:
    assert load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path)}).log_format == "text"
    config = tmp_path / "config.yaml"
    config.write_text("logging:\n  format: json\n")
    assert load_settings(config, {}).log_format == "json"
    assert load_settings(config, {"THREADCOUNT_LOG_FORMAT": "text"}).log_format == "text"
    with pytest.raises(ConfigError, match="THREADCOUNT_LOG_FORMAT"):
        load_settings(None, {"THREADCOUNT_LOG_FORMAT": "xml"})


def test_outside_a_ray_actor_configure_actor_changes_nothing(restored_logging: None) -> None:
    before = list(logging.getLogger().handlers)
    configure_actor("shard-0")
    assert logging.getLogger().handlers == before


@pytest.mark.parametrize(("given", "kept"), [(b"abc-123", True), (b"a.b:c_d", True), (b"", False),
                                             (b"has space", False), (b"x" * 129, False), (b"<script>", False)])
def test_a_callers_request_id_is_kept_only_when_it_is_a_plain_token(given: bytes, kept: bool) -> None:
    chosen = chosen_id(given)
    assert (chosen == given.decode()) is kept and 1 <= len(chosen) <= 128


def test_the_trace_id_is_read_from_a_valid_traceparent_only() -> None:
    assert trace_of(b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") == "0af7651916cd43dd8448eb211c80319c"
    assert trace_of(b"00-" + b"0" * 32 + b"-b7ad6b7169203331-01") is None
    assert trace_of(b"garbage") is None and trace_of(None) is None


def test_a_logged_reason_is_the_exceptions_message_or_its_type_when_it_has_none() -> None:
    from actors.logs import reason

    assert reason(ConnectionError("refused")) == "refused"
    assert reason(TimeoutError()) == "TimeoutError"  # asyncio.timeout's and wait_for's: no message
