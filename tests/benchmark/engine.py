"""Engine-level figure: reserved order lines per second straight into the stock shards, no HTTP.

What is measured: `PlaceOrder` commands, built as `inventory.desk.StockDesk` builds them, sent in batches
of `BATCH` per call straight to `StockShard.apply` (each shard gets only orders for variants it owns),
`IN_FLIGHT` calls in flight per shard, one shard per CPU, all shards group-committing into one SQLite
file in WAL mode with synchronous=FULL. A line counts once its call has answered (so after its commit)
with the line open and fully reserved. Two runs: single-line orders, and 4-line orders whose lines are
4 different variants of one shard. Afterwards the shards are killed and a fresh engine proves the
ledger and counts the order lines: every acknowledged line must be in the file.

The batches are built before the clock starts (a 1,000-order batch costs 4.5-8 ms of driver CPU, a
share of the 2 cores the shards need): an unmeasured 1 s probe, built on the fly, sizes the supply at
twice its rate; if the supply still runs out the rest is built on the fly and `built_on_the_fly` says
how many batches were. The caller's own work (Ray pickling the commands, unpickling and checking the
answers) is inside the measurement, as it is for any caller. The database starts empty, so this is
a young file's figure: a shard's group commit of 1,000 single-line orders grows with the file (about
48 ms at 50,000 orders, 145 ms at 300,000, measured in-process), and `database_mb` says how big it got.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import math
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from actors.router import PROTOCOL
from inventory.commands import LineRequest, OrderPartState, PlaceOrder
from inventory.desk import order_id_for

WARMUP_S = 1.0
DURATION_S = 5.0
BATCH = 1000
IN_FLIGHT = 2
VARIANTS = 200
STOCK_PER_VARIANT = 100_000_000
PROBE_S = 1.0  # unmeasured, to size the pre-built batches: PREBUILD_FACTOR x the probe's rate, capped
PREBUILD_FACTOR = 2.0
MAX_PREBUILD_LINES_PER_S = 200_000
CHANNEL = "bench-engine"
SIGNATURE = "engine-benchmark"


def _say(message: str) -> None:
    print(f"engine: {message}", file=sys.stderr, flush=True)


@dataclass
class Tally:
    """What one run's answers said, in the measured window and overall."""

    lines_per_order: int
    window_start: float = 0.0
    window_end: float = 0.0
    window_lines: int = 0
    window_orders: int = 0
    window_calls: int = 0
    lines: int = 0  # acknowledged reserved lines, warm-up and drain included
    orders: int = 0
    failed_lines: int = 0
    failure_samples: list[str] = field(default_factory=list)
    built_on_the_fly: int = 0

    def record(self, done: float, batch: list[PlaceOrder], results: list[Any]) -> None:
        lines = orders = 0
        for command, result in zip(batch, results, strict=True):
            wanted = {req.line_no: req.quantity for req in command.lines}
            ok = (
                isinstance(result, OrderPartState)
                and result.created
                and len(result.lines) == len(wanted)
                and all(ln.state == "open" and ln.reserved == wanted.get(ln.line_no) for ln in result.lines)
            )
            if ok:
                lines += len(wanted)
                orders += 1
            else:
                self.failed_lines += len(wanted)
                if len(self.failure_samples) < 3:
                    self.failure_samples.append(repr(result)[:300])
        self.lines += lines
        self.orders += orders
        if self.window_start <= done <= self.window_end:
            self.window_lines += lines
            self.window_orders += orders
            self.window_calls += 1


def _place_order(external_id: str, location_id: int, variant_ids: tuple[int, ...]) -> PlaceOrder:
    lines = tuple(LineRequest(no, v, 1) for no, v in enumerate(variant_ids, start=1))
    return PlaceOrder(order_id_for(CHANNEL, external_id), CHANNEL, external_id, "reject",
                      (location_id,), lines, time.time(), SIGNATURE)


def _batches(tag: str, location_id: int, owned: list[int], lines_per_order: int
             ) -> Iterator[list[PlaceOrder]]:
    """Endless batches of orders over the variants one shard owns; every external id is new."""
    counter = itertools.count()
    picks = itertools.cycle(range(len(owned)))
    while True:
        batch = []
        for _ in range(BATCH):
            start = next(picks)
            variant_ids = tuple(owned[(start + k) % len(owned)] for k in range(lines_per_order))
            batch.append(_place_order(f"{tag}-{next(counter)}", location_id, variant_ids))
        yield batch


class Supply:
    """Pre-built batches first, then built on the fly (counted once `counting` is set)."""

    def __init__(self, source: Iterator[list[PlaceOrder]], tally: Tally):
        self._source, self._tally = source, tally
        self._ready: deque[list[PlaceOrder]] = deque()
        self.counting = False

    def prebuild(self, batches: int) -> None:
        self._ready.extend(next(self._source) for _ in range(batches))

    def next(self) -> list[PlaceOrder]:
        if self._ready:
            return self._ready.popleft()
        if self.counting:
            self._tally.built_on_the_fly += 1
        return next(self._source)


def _cpu_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [float(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    return sum(fields) - idle, sum(fields)


async def _pump(shards: list[Any], supplies: list[Supply], tally: Tally, until: float) -> None:
    """Keep IN_FLIGHT calls in flight per shard until `until`; the calls then in flight still finish."""

    async def caller(index: int) -> None:
        shard, supply = shards[index], supplies[index]
        while time.perf_counter() < until:
            batch = supply.next()
            # the same transport the service's ShardRouter uses: a pickled batch, pickled answers
            packed = await shard.apply_packed.remote(pickle.dumps(batch, PROTOCOL))
            tally.record(time.perf_counter(), batch, pickle.loads(packed))

    await asyncio.gather(*(caller(i) for i in range(len(shards)) for _ in range(IN_FLIGHT)))


async def _run(shards: list[Any], location_id: int, owned: list[list[int]], lines_per_order: int
               ) -> dict[str, Any]:
    tally = Tally(lines_per_order, window_start=math.inf, window_end=math.inf)
    supplies = [
        Supply(_batches(f"L{lines_per_order}-s{i}", location_id, owned[i], lines_per_order), tally)
        for i in range(len(shards))
    ]
    # A short probe (batches built on the fly, not measured) sizes the pre-built supply.
    began = time.perf_counter()
    await _pump(shards, supplies, tally, began + PROBE_S)
    probe_rate = tally.lines / (time.perf_counter() - began)
    rate = min(PREBUILD_FACTOR * probe_rate, MAX_PREBUILD_LINES_PER_S)
    per_shard = math.ceil(rate * (WARMUP_S + DURATION_S) / (BATCH * lines_per_order * len(shards))) + IN_FLIGHT
    began = time.perf_counter()
    for supply in supplies:
        supply.prebuild(per_shard)
        supply.counting = True
    _say(f"{lines_per_order}-line orders: probe {probe_rate:,.0f} lines/s; pre-built {per_shard * len(shards)} "
         f"batches of {BATCH} in {time.perf_counter() - began:.1f} s")
    gc.collect()
    gc.freeze()  # the pre-built commands are long-lived: keep the driver's collector off them

    start = time.perf_counter()
    tally.window_start, tally.window_end = start + WARMUP_S, start + WARMUP_S + DURATION_S
    cpu: dict[str, Any] = {}

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, tally.window_start - time.perf_counter()))
        cpu["start"], cpu["driver_start"] = _cpu_busy(), time.process_time()
        await asyncio.sleep(max(0.0, tally.window_end - time.perf_counter()))
        cpu["end"], cpu["driver_end"] = _cpu_busy(), time.process_time()

    await asyncio.gather(sample_cpu(), _pump(shards, supplies, tally, tally.window_end))
    gc.unfreeze()
    supplies.clear()
    gc.collect()

    busy = cpu["end"][0] - cpu["start"][0]
    jiffies = cpu["end"][1] - cpu["start"][1]
    cpus = os.cpu_count() or 1
    figures = {
        "lines_per_order": lines_per_order,
        "lines_per_s": round(tally.window_lines / DURATION_S),
        "orders_per_s": round(tally.window_orders / DURATION_S),
        "calls_per_s": round(tally.window_calls / DURATION_S, 1),
        "acknowledged_lines": tally.lines,
        "failed_lines": tally.failed_lines,
        "built_on_the_fly": tally.built_on_the_fly,
        "machine_cpu_busy_pct": round(100 * busy / jiffies) if jiffies else None,
        "driver_cpu_pct_of_machine": round(100 * (cpu["driver_end"] - cpu["driver_start"])
                                           / (DURATION_S * cpus)),
    }
    if tally.failure_samples:
        figures["failure_samples"] = tally.failure_samples
    _say(f"{lines_per_order}-line orders: {figures}")
    return figures


def _fsync_ms(directory: Path) -> float:
    """Median latency of a small write + fsync in the database's directory: what FULL pays per commit."""
    path = directory / "fsync-probe"
    samples = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for i in range(30):
            os.pwrite(fd, b"x" * 4096, i * 4096)
            began = time.perf_counter()
            os.fsync(fd)
            samples.append(time.perf_counter() - began)
    finally:
        os.close(fd)
        path.unlink()
    return round(sorted(samples)[len(samples) // 2] * 1000, 3)


async def _setup(url: str) -> tuple[int, list[int]]:
    from store.catalog import Catalog, NewVariant
    from store.engine import make_engine
    from store.migrate import upgrade

    await upgrade(url)
    engine = make_engine(url)
    try:
        catalog = Catalog(engine)
        location = await catalog.add_location("ENGINE-WH", "Engine benchmark warehouse", "warehouse")
        await catalog.add_product("ENGINE-SHEET", "Engine benchmark sheet", "",
                                  [NewVariant(f"ENGINE-SHEET-{i:04d}") for i in range(VARIANTS)])
        await catalog.refresh()
        variant_ids = sorted([v for v in [await catalog.variant_id(f"ENGINE-SHEET-{i:04d}")
                                          for i in range(VARIANTS)] if v is not None])
    finally:
        await engine.dispose()
    return location.id, variant_ids


async def _verify(url: str, database: Path, acknowledged: int, failed: int) -> dict[str, Any]:
    from store.check import check_ledger
    from store.engine import make_engine
    from store.schema import ledger, order_lines

    engine = make_engine(url)
    try:
        mismatches = await check_ledger(engine)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(func.count()).select_from(order_lines))).scalar_one()
            open_rows = (await conn.execute(
                select(func.count()).select_from(order_lines).where(order_lines.c.state == "open")
            )).scalar_one()
            reserve_entries = (await conn.execute(
                select(func.count()).select_from(ledger).where(ledger.c.kind == "reserve")
            )).scalar_one()
    finally:
        await engine.dispose()
    files = database.parent.glob(f"{database.name}*")
    found = {"database_mb": round(sum(f.stat().st_size for f in files) / 1e6),
             "ledger_mismatches": len(mismatches), "order_lines_rows": rows,
             "open_order_lines_rows": open_rows, "reserve_ledger_entries": reserve_entries}
    problems = []
    if mismatches:
        problems.append(f"check_ledger found {len(mismatches)} mismatches, e.g. {mismatches[:3]}")
    if open_rows != acknowledged or reserve_entries != acknowledged:
        problems.append(f"{acknowledged} lines acknowledged as reserved, but the store holds {open_rows} "
                        f"open order lines and {reserve_entries} reserve ledger entries")
    if rows != acknowledged + failed:
        problems.append(f"{acknowledged + failed} lines answered, but the store holds {rows} order lines")
    if problems:
        raise RuntimeError("durability check failed: " + "; ".join(problems) + f" ({found})")
    return found


async def _measure(directory: Path) -> dict[str, Any]:
    import ray

    from actors.shard import shard_actor_class
    from inventory.commands import Receive, VariantStock
    from inventory.partition import shard_of

    url = f"sqlite+aiosqlite:///{directory / 'engine.db'}"
    location_id, variant_ids = await _setup(url)
    count = os.cpu_count() or 1
    owned = [[v for v in variant_ids if shard_of(v, count) == i] for i in range(count)]

    os.environ.setdefault("RAY_worker_niceness", "0")
    started_ray = not ray.is_initialized()
    if started_ray:
        began = time.perf_counter()
        from service.ray_security import secure_ray

        ray.init(address="local", include_dashboard=False, logging_level="ERROR",
                 **secure_ray(directory, local=True))
        _say(f"ray.init in {time.perf_counter() - began:.1f} s")
    shards: list[Any] = []
    try:
        actor = shard_actor_class()
        shards = [actor.remote(i, count, url, "FULL") for i in range(count)]
        await asyncio.gather(*(shard.ready.remote() for shard in shards))
        receipts = await asyncio.gather(*(
            shards[i].apply.remote([Receive(f"engine-receive-{v}", v, location_id, STOCK_PER_VARIANT)
                                    for v in owned[i]])
            for i in range(count)
        ))
        if not all(isinstance(r, VariantStock) for answers in receipts for r in answers):
            raise RuntimeError(f"receiving stock failed: {receipts}")
        _say(f"{count} shards ready, {[len(o) for o in owned]} of {len(variant_ids)} variants stocked each")

        runs = [await _run(shards, location_id, owned, n) for n in (1, 4)]
    finally:
        for shard in shards:
            ray.kill(shard, no_restart=True)
        if started_ray:
            ray.shutdown()

    acknowledged = sum(r["acknowledged_lines"] for r in runs)
    failed = sum(r["failed_lines"] for r in runs)
    durable = await _verify(url, directory / "engine.db", acknowledged, failed)
    single, four = runs
    return {
        "lines_per_s": single["lines_per_s"],
        "orders_per_s": single["orders_per_s"],
        "lines_per_order": 1,
        "lines_per_s_4_line_orders": four["lines_per_s"],
        "orders_per_s_4_line_orders": four["orders_per_s"],
        "batch_size": BATCH,
        "in_flight_per_shard": IN_FLIGHT,
        "shards": count,
        "seconds": DURATION_S,
        "warmup_s": WARMUP_S,
        "sqlite_synchronous": "FULL",
        "fsync_ms": _fsync_ms(directory),
        "prebuilt_batches": True,
        "failed_lines": failed,
        **durable,
        "acknowledged_lines": acknowledged,
        "runs": runs,
    }


def engine_benchmark() -> dict[str, Any] | None:
    """Reserve lines directly through the shard actors and report the rate (single-line orders as the
    headline ``lines_per_s``; the 4-line run beside it and in ``runs``). Starts and stops its own Ray
    and a temporary SQLite file; raises if the store afterwards disagrees with what was acknowledged.
    """
    directory = Path(tempfile.mkdtemp(prefix="tc-bench-engine-"))
    environment = dict(os.environ)  # Ray's token set-up writes its path here (service.ray_security)
    try:
        return asyncio.run(_measure(directory))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        # what comes next starts services of its own: a token path into the folder just removed
        # made the partner-sync scenario's service refuse to start
        os.environ.clear()
        os.environ.update(environment)
