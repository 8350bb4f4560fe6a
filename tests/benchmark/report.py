"""The comparison table and the one-line JSON record of a benchmark run."""

from __future__ import annotations

import json
from typing import Any

Row = tuple[str, str, str]
ROWS: tuple[tuple[str, str], ...] = (
    ("orders/s", "orders_per_s"),
    ("p50 latency (ms)", "p50_ms"),
    ("p99 latency (ms)", "p99_ms"),
    ("errors (non-2xx, failed)", "errors"),
    ("orders answered rejected", "rejected"),
    ("start to ready (s)", "start_to_ready_s"),
    ("peak RSS, process tree (MB)", "peak_rss_mb"),
    ("processes at peak", "peak_processes"),
    ("shutdown (s)", "shutdown_s"),
    ("exit code", "exit_code"),
    ("SIGKILLed after 15 s", "killed"),
    ("leftover processes killed", "leftover_processes"),
)


def ratio(record: dict[str, Any]) -> float | None:
    base = (record.get("baseline") or {}).get("orders_per_s")
    ours = (record.get("threadcount") or {}).get("orders_per_s")
    if not base or ours is None:
        return None
    return round(ours / base, 2)


def _cell(result: dict[str, Any] | None, key: str) -> str:
    if result is None:
        return "skipped"
    if "error" in result and key == "orders_per_s":
        return "FAILED"
    if key == "rejected":
        value = result["statuses"].get("rejected", 0) if "statuses" in result else None
    else:
        value = result.get(key)
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _engine_line(engine: dict[str, Any] | None, skipped: bool) -> str:
    if skipped:
        return "skipped"
    if engine is None:
        return "not measured (tests/benchmark/engine.py: engine_benchmark() returns None)"
    if "error" in engine:
        return f"FAILED: {engine['error']}"
    runs = engine.get("runs") or ()
    rest = ", ".join(f"{k}={v}" for k, v in engine.items() if k not in ("lines_per_s", "runs"))
    # every order shape on the headline: the figure is per line, and lines per order moves it a lot
    head = "; ".join(f"{run.get('lines_per_s'):,} with {run.get('lines_per_order')}-line orders"
                     for run in runs) or str(engine.get("lines_per_s"))
    line = f"{head}\n  ({rest})" if rest else head
    for run in engine.get("runs") or ():  # one line per order shape measured
        figures = ", ".join(f"{k}={v}" for k, v in run.items() if k not in ("lines_per_order", "lines_per_s"))
        line += f"\n  {run.get('lines_per_order')}-line orders: {run.get('lines_per_s'):,} lines/s  ({figures})"
    return line


def render(record: dict[str, Any]) -> str:
    settings = record["settings"]
    baseline, threadcount = record.get("baseline"), record.get("threadcount")
    rows: list[Row] = [("", "baseline", "threadcount")]
    rows += [(label, _cell(baseline, key), _cell(threadcount, key)) for label, key in ROWS]
    width = max(len(r[0]) for r in rows)
    lines = [
        f"Threadcount benchmark: {settings['clients']} clients, {settings['warmup']:g} s warm-up + "
        f"{settings['duration']:g} s measured, {settings['skus']} SKUs, {settings['cpus']} CPUs",
        "",
    ]
    lines += [f"{label:<{width}}  {left:>12}  {right:>12}" for label, left, right in rows]
    speedup = ratio(record)
    engine = _engine_line(record.get("engine"), settings["engine_skipped"])
    lines += [
        "",
        f"threadcount / baseline orders/s: {f'{speedup:.2f}x' if speedup is not None else '-'}",
        f"engine, reserved lines/s (no HTTP): {engine}",
    ]
    for name in ("baseline", "threadcount"):
        result = record.get(name) or {}
        if "error" in result:
            lines += ["", f"{name} FAILED: {result['error']}"]
        for sample in result.get("error_samples", []):
            lines.append(f"{name} error sample: {sample}")
    return "\n".join(lines)


def as_json_line(record: dict[str, Any]) -> str:
    return json.dumps({**record, "ratio": ratio(record)}, separators=(",", ":"), default=str)
