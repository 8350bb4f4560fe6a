"""The comparison table and the one-line JSON record of a benchmark run."""

from __future__ import annotations

import json
from typing import Any

from tests.benchmark.buffers import buffer_lines
from tests.benchmark.streams import GRACE

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


def _num(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}" if value < 100 else f"{value:,.0f}{unit}"
    return f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


def _sync_lines(sync: dict[str, Any] | None) -> list[str]:
    """The partner-sync section: whatever was measured, then the failure if there was one."""
    head = "partner sync (demo catalog, every partner simulator, shoppers off):"
    if sync is None:
        return ["", f"{head} skipped"]
    lines = ["", head]
    initial = sync.get("initial_sync")
    if "start_to_ready_s" in sync:
        line = f"  start to ready {_num(sync['start_to_ready_s'], ' s')}"
        if initial:
            listings = initial.get("listings") or {}
            counts = "/".join(str(n) for n in sorted(set(listings.values()))) or "?"
            line += (f"; initial full sync ({counts} listings x {len(listings)} partners) converged "
                     f"{_num(initial.get('ready_to_converged_s'), ' s')} after ready")
        lines.append(line)
    propagation = sync.get("propagation")
    if propagation:
        lines.append(f"  order sent -> simulator shows the new quantity (ms), {propagation.get('orders')} "
                     f"single-line orders ({_num(propagation.get('orders_per_s'))}/s), "
                     "for the partners whose quantity changed:")
        rows = [("partner", "changes", "p50", "p99", "max", "missed")]
        per_partner = propagation.get("per_partner_ms") or {}
        for name, figures in [*per_partner.items(), ("all", propagation.get("overall_ms") or {})]:
            rows.append((name, *(_num(figures.get(k)) for k in ("changes", "p50", "p99", "max", "missed"))))
        lines += [f"    {r[0]:<10}" + "".join(f"{cell:>9}" for cell in r[1:]) for r in rows]
        if propagation.get("orders_changing_no_partner"):
            lines.append(f"    orders that changed no partner's quantity: {propagation['orders_changing_no_partner']}")
    lines += _partner_order_lines(sync.get("partner_orders"))
    burst = sync.get("burst") or {}
    if "orders" in burst:
        others = ", ".join(f"{n:,} {k}" for k, n in (burst.get("statuses") or {}).items() if k != "reserved")
        seconds, restocked = _num(burst.get("seconds"), " s"), _num(burst.get("restocked_per_sku"))
        lines.append(
            f"  burst: {burst.get('clients')} clients on {len(burst.get('skus') or ())} hot SKUs "
            f"(+{restocked} units each first) for {seconds}: "
            f"{_num(burst.get('orders'))} orders reserved ({_num(burst.get('orders_per_s'))}/s"
            f"{'; ' + others if others else ''})")
    if "end_to_converged_s" in burst:
        converged = _num(burst["end_to_converged_s"], " s")
        lines.append(f"    every simulator showed the final quantities {converged} after the burst ended")
    if "listings_pushed" in burst:
        changes, pushed = _num(burst.get("desired_changes")), _num(burst.get("listings_pushed"))
        lines.append(f"    {changes} desired changes -> {pushed} listings pushed: "
                     f"{_num(burst.get('changes_per_listing_pushed'))} changes per listing pushed")
        rows = [("partner", "desired changes", "listings pushed", "push calls", "saved by coalescing")]
        keys = ("desired_changes", "listings_pushed", "pushes", "pushes_saved_by_coalescing")
        totals = {k: burst.get(k) for k in keys}
        for name, figures in [*(burst.get("per_partner") or {}).items(), ("all", totals)]:
            rows.append((name, *(_num(figures.get(k)) for k in keys)))
        lines += [f"    {r[0]:<10}" + "".join(f"{cell:>21}" for cell in r[1:]) for r in rows]
    for stale in burst.get("stale_desired") or ():
        lines.append(f"    stale in GET /partners/{{id}}/listings: {stale}")
    limited = sync.get("rate_limited")
    if limited is not None:
        verdict = "none" if not any(limited.values()) else "VIOLATED"
        lines.append("  rate-limit violations counted by the simulators: "
                     + ", ".join(f"{p} {n}" for p, n in limited.items()) + f" ({verdict})")
    if sync.get("check_transport_errors"):
        lines.append(f"  checks that got no answer and were tried again: {sync['check_transport_errors']}")
    lines += _restart_lines(sync.get("restart"))
    if "scenario_s" in sync:
        took, shutdown = _num(sync["scenario_s"], " s"), _num(sync.get("shutdown_s"), " s")
        lines.append(f"  scenario {took} (restart included); first run's shutdown {shutdown}, "
                     f"exit code {_num(sync.get('exit_code'))}")
    if "error" in sync:
        lines.append(f"partner sync FAILED: {sync['error']}")
    for sample in burst.get("error_samples", []):
        lines.append(f"partner sync burst error sample: {sample}")
    return lines


def _partner_order_lines(orders: dict[str, Any] | None) -> list[str]:
    """Shopper orders at the simulators, timed until GET /api/v1/orders returned them."""
    if not orders:
        return []
    lines = [f"  shopper order at the simulator -> GET /api/v1/orders returns it (ms), {orders.get('orders')} "
             f"single-line orders ({_num(orders.get('orders_per_s'))}/s round-robin), the orders read "
             f"every {_num(orders.get('read_every_ms'))} ms; a polled partner's figure includes waiting for "
             "its next poll (the interval shown):"]
    rows = [("partner", "orders", "p50", "p99", "max", "missed", "  how the order comes")]
    per_partner = orders.get("per_partner_ms") or {}
    for name, figures in [*per_partner.items(), ("all", orders.get("overall_ms") or {})]:
        cells = (_num(figures.get(k)) for k in ("orders", "p50", "p99", "max", "missed"))
        rows.append((name, *cells, f"  {figures.get('how', '')}"))
    lines += [f"    {r[0]:<10}" + "".join(f"{cell:>9}" for cell in r[1:-1]) + r[-1] for r in rows]
    for refused in orders.get("refused_by_simulators") or ():
        lines.append(f"    refused by the simulator: {refused}")
    return lines


def _restart_lines(again: dict[str, Any] | None) -> list[str]:
    """The restart on the same data folder: until every simulator agrees with what we desire."""
    if again is None:
        return []
    drifted = ", ".join(f"{p} {n}" for p, n in (again.get("drifted_listings") or {}).items()) or "none"
    lines = [f"  restart (SIGTERM, two shops drifted while stopped: {drifted} listings; `python run.py` "
             "again on the same data folder):"]
    if "start_to_agreed_s" in again:
        lines.append(f"    every simulator agrees {_num(again['start_to_agreed_s'], ' s')} after the new start "
                     f"(ready {_num(again.get('start_to_ready_s'), ' s')}, simulators listed "
                     f"{_num(again.get('start_to_simulators_listed_s'), ' s')})")
    elif "start_to_ready_s" in again:
        lines.append(f"    ready {_num(again['start_to_ready_s'], ' s')} after the new start; never agreed")
    limited = again.get("rate_limited")
    if limited is not None:
        verdict = "none" if not any(limited.values()) else "VIOLATED"
        lines.append("    rate-limit violations after the restart: "
                     + ", ".join(f"{p} {n}" for p, n in limited.items()) + f" ({verdict})")
    return lines


def without_streams(result: dict[str, Any]) -> float | None:
    """The orders/s the streams' load is compared with: the mean of the loads without streams before
    and after it (loads one after another drift), or the one before in a record without the after."""
    before = result.get("orders_per_s")
    after = (result.get("after_streams") or {}).get("orders_per_s")
    if before is None or after is None:
        return before
    return float((before + after) / 2)


def _share(part: float | None, whole: float | None) -> str:
    return f"{part / whole:.0%}" if whole and part is not None else "-"


def _stream_lines(threadcount: dict[str, Any] | None) -> list[str]:
    """The load again with dashboard streams open: orders/s against the runs without, and latency."""
    streamed = (threadcount or {}).get("with_streams")
    if not streamed or threadcount is None:
        return []
    figures = streamed.get("streams") or {}
    before, together = threadcount.get("orders_per_s"), streamed.get("orders_per_s")
    after = threadcount.get("after_streams") or {}
    alone = without_streams(threadcount)
    return [
        "",
        f"with {figures.get('streams')} dashboard streams open (all open in {_num(figures.get('open_all_s'), ' s')}):",
        f"  orders/s {_num(together)} (p50 {_num(streamed.get('p50_ms'))} ms, p99 {_num(streamed.get('p99_ms'))} "
        f"ms, errors {streamed.get('errors')}) = {_share(together, alone)} of the runs without streams "
        f"before and after it ({_num(before)} and {_num(after.get('orders_per_s'))}, p99 "
        f"{_num(threadcount.get('p99_ms'))} and {_num(after.get('p99_ms'))} ms; the one after took "
        f"{_share(after.get('orders_per_s'), before)} of the one before: the drift between loads)",
        f"  stock change -> every stream (ms, {figures.get('probes')} probe orders x {figures.get('streams')} "
        f"streams = {figures.get('samples')} samples): p50 {_num(figures.get('p50_ms'))}, p99 "
        f"{_num(figures.get('p99_ms'))}, max {_num(figures.get('max_ms'))}, never seen {figures.get('missed')}; "
        f"streams ended by the server {figures.get('drops')}",
        f"  the stream clients' own process used {_num(figures.get('client_cpu_s'), ' s')} of CPU on this machine "
        f"(start to load end {_num(figures.get('open_to_load_end_s'), ' s')}, plus {GRACE:g} s after)",
        f"  bytes/s to the streams {_num(figures.get('bytes_per_s'))} ({_num(figures.get('reads_per_s'))} reads/s); "
        f"the server's CPU s over the load, without -> with streams: {_cpu_split(threadcount, streamed)}",
        f"  the machine's CPU s over the load, without -> with streams: "
        f"{_cpu_split(threadcount, streamed, 'machine_cpu_s')}",
    ]


def _cpu_split(alone: dict[str, Any] | None, together: dict[str, Any], key: str = "cpu_s_by_process") -> str:
    before, after = (alone or {}).get(key) or {}, together.get(key) or {}
    return ", ".join(f"{kind} {_num(before.get(kind))} -> {_num(after.get(kind))}"
                     for kind in sorted(set(before) | set(after))) or "-"


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
    lines += _stream_lines(threadcount)
    lines += _worker_lines(threadcount, record.get("workers") or [])
    if "sync" in record:  # records from before the partner-sync scenario have no such key
        lines += _sync_lines(record["sync"])
    if "buffers" in record:
        lines += buffer_lines(record["buffers"])
    return "\n".join(lines)


def _worker_lines(first: dict[str, Any] | None, others: list[dict[str, Any]]) -> list[str]:
    """Threadcount again with more web workers, against the first run (THREADCOUNT_WEB_WORKERS)."""
    if not others or not first:
        return []
    lines = ["", "web workers (THREADCOUNT_WEB_WORKERS), the same load:"]
    for result in [first, *others]:
        if "error" in result:
            lines.append(f"  FAILED: {result['error'][:300]}")
            continue
        alone, base = result.get("orders_per_s"), first.get("orders_per_s")
        share = f" = {alone / base:.0%} of {first.get('web_workers', 1)}" if alone and base else ""
        lines.append(f"  {result.get('web_workers', 1)}: orders/s {_num(alone)}{share}, p50 {_num(result.get('p50_ms'))}"
                     f" ms, p99 {_num(result.get('p99_ms'))} ms, peak RSS {_num(result.get('peak_rss_mb'))} MB")
        answered = result.get("answered_by") or {}
        if len(answered) > 1:
            total = sum(answered.values())
            lines.append("     orders answered by web process (0: the primary): "
                         + ", ".join(f"{process} {count / total:.0%}" for process, count in answered.items()))
        split = result.get("cpu_ms_per_order_by_process") or {}
        if split:
            generator = result.get("generator_cpu_ms_per_order")
            lines.append("     CPU ms per order: " + ", ".join(f"{kind} {ms:.3f}" for kind, ms in split.items())
                         + (f"; the load generator {generator:.3f}" if generator is not None else ""))
        streamed = result.get("with_streams")
        if streamed:
            figures = streamed.get("streams") or {}
            lines.append(f"     with {figures.get('streams')} streams: orders/s {_num(streamed.get('orders_per_s'))} "
                         f"= {_share(streamed.get('orders_per_s'), without_streams(result))} of the runs without "
                         f"before and after ({_num((result.get('after_streams') or {}).get('orders_per_s'))} after), "
                         f"p99 {_num(streamed.get('p99_ms'))} ms; stock change -> every stream p50 "
                         f"{_num(figures.get('p50_ms'))} ms, p99 {_num(figures.get('p99_ms'))} ms, "
                         f"never seen {figures.get('missed')}")
    return lines


def as_json_line(record: dict[str, Any]) -> str:
    return json.dumps({**record, "ratio": ratio(record)}, separators=(",", ":"), default=str)
