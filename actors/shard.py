"""StockShard: owns every location's stock of the variants hashed to it and applies commands one at
a time.

Guarantees:
- A batch is applied in the order given and group-committed in one transaction; the call answers
  only after the commit (acknowledge after commit).
- Idempotent: an order part is keyed by its order id (from channel + external id), a stock command
  by its command id, both recorded in the same transaction. A batch retried by Ray after a crash
  is answered from those records, never applied twice.
- A restarted shard reloads its state from the store before it takes any command.
- Fenced (store/shard_epochs.py): each incarnation takes the next epoch of its shard before it
  loads, and each group commit checks it in its own transaction. A stale incarnation (its node cut
  off while Ray started the shard again elsewhere) can never commit: its commit is rolled back, and
  from then on it answers every call with StaleShard (callers: ShardUnavailable, 503).
- Traced (actors/tracing.py): a call is a `shard.batch` span, the child of the caller's `shard.call`;
  a group commit is a `shard.commit` span, the child of its first batch's span and linked to the
  others'; each stock event carries the context of the batch that made the change.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import logging
import os
import pickle
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from actors import tracing
from actors.collector import settle_after_start
from actors.listener import find_hub, publish
from actors.logs import configure_actor
from actors.metrics import ShardMetrics
from actors.stock_publisher import StockPublisher
from inventory.book import StockBook
from inventory.codec import result_from_json, result_to_json
from inventory.commands import (
    AbortOrder,
    CancelOrder,
    Command,
    ConvertHold,
    Failure,
    FulfilOrder,
    InspectOrder,
    PlaceOrder,
    Result,
    VariantStock,
)
from inventory.events import StockChanged
from inventory.model import Changes
from inventory.partition import OrderSeqs, shard_of
from store import shard_epochs, shard_store
from store.shard_db import ShardDatabase
from store.shard_epochs import StaleShard

log = logging.getLogger(__name__)
# Answers of stock commands kept to answer a replay without the store (a new command id is looked
# up in the store anyway): ~0.6 KB each, so at most ~6 MB a shard. Was 100,000 (~60 MB a shard).
REMEMBERED_RESULTS = 10_000
# Closed order parts kept (open ones are the shard's state): ~0.75 KB for a one-line order, so at
# most ~37 MB a shard; the rest are answered from the store.
REMEMBERED_CLOSED_PARTS = 50_000
FREEZE_EVERY = 16  # calls
PUBLISH_EVERY = 0.05  # seconds: under load a shard publishes its stock events at most this often


class ShardCore:
    def __init__(self, index: int, count: int, database_url: str, sqlite_synchronous: str = "FULL"):
        self.index, self.count = index, count
        self._url, self._sync = database_url, sqlite_synchronous
        self._lock = asyncio.Lock()
        self._db: ShardDatabase | None = None
        self._queue: list[tuple[shard_store.BatchRows, asyncio.Future[None], tracing.SpanContext | None]] = []
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()
        self._committer: asyncio.Task[None] | None = None
        self._broken = False
        self._stale = False
        self.epoch = 0  # this incarnation's, taken at start
        self._committing = False
        self.book = StockBook(OrderSeqs(index % 128))
        self._results: OrderedDict[str, Result] = OrderedDict()
        self.figures = ShardMetrics()

    def owns(self, variant_id: int) -> bool:
        return shard_of(variant_id, self.count) == self.index

    @property
    def db(self) -> ShardDatabase:
        if self._db is None:
            raise RuntimeError("the shard has not started")
        return self._db

    async def start(self) -> None:
        if self._db is None:
            self._db = ShardDatabase(self._url, self._sync, checkpointer=self.index == 0)
        # before the load: whatever an earlier incarnation commits from now on is refused
        self.epoch = await self.db.write(shard_epochs.claim, self.index)
        await self._load()

    async def _load(self) -> None:
        self.book = StockBook(self.book.seqs)
        for variant_id, location_id, on_hand, reserved in await self.db.read(
            shard_store.load_levels, self.owns
        ):
            self.book.load_level(variant_id, location_id, on_hand, reserved)
        for part in await self.db.read(shard_store.load_open_parts, self.owns):
            self.book.load_part(part)

    async def stop(self) -> None:
        await self._drain()
        if self._committer is not None:
            self._committer.cancel()
            await asyncio.gather(self._committer, return_exceptions=True)
            self._committer = None
        if self._db is not None:
            await self._db.close()
            self._db = None

    async def apply(self, commands: Sequence[Command]) -> list[Result]:
        """Apply in order and answer after the commit. Commits are pipelined: the next batch is
        applied in memory while this one is written; its rows queue behind this one's, and nobody is
        answered before every commit up to theirs has succeeded."""
        async with self._lock:
            if self._stale:
                raise StaleShard(f"shard {self.index}: a newer incarnation runs; this one takes no commands")
            if self._db is None:
                await self.start()
            if self._broken:
                await self._recover()
            if not (self._queue or self._committing):
                # Only when all that memory holds is committed: a part forgotten before its commit
                # would not be found in the store by a replay.
                self.book.forget_closed_parts(REMEMBERED_CLOSED_PARTS)
            await self._recall(commands)
            self.figures.batch_size.observe(len(commands))
            changes = Changes()
            answers: list[Result] = []
            new_results: dict[str, str] = {}
            for command in commands:
                command_id = getattr(command, "command_id", None)
                if command_id is not None and command_id in self._results:
                    answers.append(self._results[command_id])
                    continue
                result = self.book.apply(command, changes)
                if command_id is not None and isinstance(result, Failure | VariantStock):
                    self._remember(command_id, result)
                    new_results[command_id] = result_to_json(result)
                answers.append(result)
            levels = {key: self._level(*key) for key in changes.levels}
            batch = tracing.here()
            committed = self._enqueue(shard_store.rows_of(changes, levels, new_results), batch)
            # taken now, published after the commit: memory may run ahead of the store meanwhile
            stocks = [self.book.stock_of(v) for v in _touched_variants(changes)]
        try:
            await committed  # raises if this batch's commit, or an earlier one, failed
            self.committed(stocks, tracing.carrier(batch) if batch is not None else None)
        except Exception:
            async with self._lock:
                if self._broken and not self._stale:
                    await self._recover()
            raise
        return answers

    def committed(self, stocks: list[VariantStock], trace: tracing.Carrier | None = None) -> None:
        """Called in commit order with the variants a committed batch changed (and the batch's trace
        context, when traced); the actor publishes."""

    def _enqueue(self, rows: shard_store.BatchRows, batch: tracing.SpanContext | None = None
                 ) -> asyncio.Future[None]:
        """Queue a batch's rows for the committer; even an empty batch waits its turn, since its
        answers may rest on batches before it that are not committed yet."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((rows, future, batch))
        self._wake.set()
        if self._committer is None or self._committer.done():
            # in a context of its own: not inside the span (or request) that happened to start it
            self._committer = asyncio.get_running_loop().create_task(self._commit_forever(),
                                                                     context=contextvars.Context())
        return future

    async def _commit_forever(self) -> None:
        """Group commit across calls: everything queued while one commit was running goes in the
        next transaction, in order. After a failure everything queued behind it fails too (it was
        applied on top of what did not commit) until `_recover` reloads from the store."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                taken, self._queue = self._queue, []
                self._committing = True
                error: Exception | None = None
                if self._stale:
                    error = StaleShard(f"shard {self.index}: a newer incarnation runs; not committed")
                elif self._broken:
                    error = RuntimeError(f"shard {self.index}: an earlier commit failed")
                else:
                    rows = shard_store.BatchRows.merged([r for r, _, _ in taken])
                    try:
                        if not rows.empty:
                            await self._write(rows, [batch for _, _, batch in taken])
                    except StaleShard as exc:
                        log.error("%s", exc)
                        self._stale = self._broken = True
                        error = exc
                    except Exception as exc:
                        log.error("shard %d: group commit failed; reloading from the store: %s",
                                  self.index, exc)
                        self._broken, error = True, exc
                for _, future, _ in taken:
                    if not future.done():
                        future.set_result(None) if error is None else future.set_exception(error)
                self._committing = False
            self._settled.set()

    async def _write(self, rows: shard_store.BatchRows, batches: list[tracing.SpanContext | None]) -> None:
        with tracing.span("shard.commit", batches, attributes={"threadcount.shard": self.index,
                                                               "threadcount.batches": len(batches)}):
            began = time.perf_counter()
            await self.db.write(shard_store.write_fenced, rows, self.index, self.epoch)
            self.figures.commit_seconds.observe(time.perf_counter() - began)

    async def _recover(self) -> None:
        """Memory ran ahead of a commit that failed: let the queue drain, then reload."""
        await self._drain()
        self._results.clear()
        await self._load()
        self._broken = False

    async def _drain(self) -> None:
        while self._queue or self._wake.is_set() or self._committing:
            self._settled.clear()
            await self._settled.wait()

    async def _recall(self, commands: Sequence[Command]) -> None:
        """Bring back from the store what this batch may replay: order parts and command results."""
        keyed = PlaceOrder | FulfilOrder | CancelOrder | AbortOrder | InspectOrder | ConvertHold
        named = [c.order_id for c in commands if isinstance(c, keyed)]
        named += [c.hold_id for c in commands if isinstance(c, ConvertHold)]
        order_ids = [order_id for order_id in named if order_id not in self.book.parts]
        self.book.stored_orders = {}
        if order_ids:
            parts, stored = await self.db.read(shard_store.load_parts, order_ids, self.owns)
            for part in parts:
                self.book.load_part(part)
            self.book.stored_orders = stored
        command_ids = [
            cid for c in commands if (cid := getattr(c, "command_id", None)) and cid not in self._results
        ]
        if command_ids:
            for cid, text in (await self.db.read(shard_store.load_results, command_ids)).items():
                self._remember(cid, result_from_json(text))

    def _remember(self, command_id: str, result: Result) -> None:
        self._results[command_id] = result
        if len(self._results) > REMEMBERED_RESULTS:
            self._results.popitem(last=False)

    def _level(self, variant_id: int, location_id: int) -> tuple[int, int]:
        level = self.book.level(variant_id, location_id)
        return level.on_hand, level.reserved


def _touched_variants(changes: Changes) -> set[int]:
    touched = {variant_id for variant_id, _ in changes.levels}
    touched.update(line.variant_id for line in changes.lines.values())
    for part in changes.new_parts.values():
        touched.update(line.variant_id for line in part.lines if line.backordered)
    return touched


class StockShard(ShardCore):
    """The Ray actor: a thin async wrapper; `ready` also forces the reload after a restart. After
    each commit it publishes the changed variants' stock to the EventHub, coalesced per variant (the
    newest committed level wins): at once after a quiet spell, under load at most every PUBLISH_EVERY
    seconds (actors/stock_publisher.py)."""

    _calls = 0

    def __init__(self, index: int, count: int, database_url: str, sqlite_synchronous: str = "FULL"):
        configure_actor(f"shard-{index}")
        tracing.start(f"shard-{index}")
        super().__init__(index, count, database_url, sqlite_synchronous)

    _publisher: StockPublisher | None = None
    _hub: Any = None

    def committed(self, stocks: list[VariantStock], trace: tracing.Carrier | None = None) -> None:
        if self._publisher is None:
            self._publisher = StockPublisher(self._to_hub, PUBLISH_EVERY, f"shard {self.index}")
        self._publisher.add(stocks, trace)

    async def _to_hub(self, facts: list[StockChanged]) -> None:
        self._hub = self._hub or find_hub()
        await publish(self._hub, facts)

    async def stop(self) -> None:
        await super().stop()
        if tracing.enabled():
            await asyncio.to_thread(tracing.flush)

    async def apply_packed(self, packed: bytes, trace: tracing.Carrier | None = None) -> bytes:
        """`apply` for a pickled batch, answering pickled results (see ShardRouter.for_actors);
        `trace`: the caller's shard.call span, when traced."""
        # from one of our own Ray actors, which Ray itself pickles anyway; never from outside
        commands = pickle.loads(packed)  # nosec B301
        with tracing.span("shard.batch", [tracing.remote(trace)], tracing.SpanKind.SERVER,
                          {"threadcount.shard": self.index, "threadcount.commands": len(commands)}):
            answers = pickle.dumps(await self.apply(commands), pickle.HIGHEST_PROTOCOL)
        self._calls += 1
        if self._calls % FREEZE_EVERY == 0:
            # Open orders pile up in the book, and the collector's full passes over them grew with
            # it (a fifth of the shard's time at a few hundred thousand orders). Collect what the
            # last calls left, then move the survivors out of the collector's sight: the book's
            # objects hold no cycles, so reference counting still frees them.
            gc.collect(1)
            gc.freeze()
        return answers

    async def ready(self) -> int:
        async with self._lock:
            if self._db is None:
                await self.start()
                # The loaded book lives as long as the process (full collections stalled whole batches)
                settle_after_start()
        return self.index

    def pid(self) -> int:
        return os.getpid()

    def metrics(self) -> list[Any]:
        """This shard's figures as prometheus_client families (merged by service/metrics.py)."""
        return self.figures.families()


def shard_actor_class() -> Any:
    import ray  # the pure core above is usable without Ray

    return ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(StockShard)
