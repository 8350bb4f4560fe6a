"""The benchmark's streams figure (tests/benchmark/report.py): the load with streams open is compared
with the mean of the loads without streams before and after it, since loads one after another
drift; a record without the load after is compared with the one before."""

from __future__ import annotations

from tests.benchmark.report import _stream_lines, without_streams


def record(before: float, streamed: float, after: float | None) -> dict[str, object]:
    found: dict[str, object] = {"orders_per_s": before, "p99_ms": 60.0,
                                "with_streams": {"orders_per_s": streamed, "streams": {"streams": 500}}}
    if after is not None:
        found["after_streams"] = {"orders_per_s": after, "p99_ms": 70.0}
    return found


def test_the_streams_load_is_compared_with_the_mean_of_the_loads_before_and_after_it() -> None:
    run = record(1_600, 1_300, 1_400)
    assert without_streams(run) == 1_500
    line = _stream_lines(run)[2]
    assert "= 87% of the runs without streams before and after it (1,600 and 1,400" in line, line
    assert "the one after took 88% of the one before" in line, line


def test_a_record_without_the_load_after_is_compared_with_the_load_before() -> None:
    assert without_streams(record(1_600, 1_300, None)) == 1_600
