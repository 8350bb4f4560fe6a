"""ShardRouter: the caller's side of the shards. Commands are gathered per shard and sent as one
call, so a shard group-commits many at once (batching is where the speed is).

Adaptive: a shard gets at most `max_inflight` calls at a time; whatever arrives meanwhile waits and
goes in the next call, up to `max_batch` commands. Under light load a command goes at once (after
`linger` seconds); under heavy load batches grow by themselves.

Traced (actors/tracing.py): each command remembers the span it was submitted under; a call is one
`shard.call` span, the child of its first traced command's span and linked to the others', whose
context travels with the batch to the shard.

Bounded (the failover goal: a request caught in a shard's failover answers within 5 s): each call
waits at most `call_timeout` seconds for the shard, and so does each caller, counted from its
submit (its wait for a free slot included); past that the caller is told ShardUnavailable (a
503 with Retry-After upstream). The command may still be applied later (Ray retries the call on the
restarted shard: max_task_retries=-1); it is idempotent on its order / command id, so the caller's
retry is answered from the shard's records, never applied twice. A late answer to a timed-out call
is dropped: the call's slot was released once, when it timed out, and its futures were settled then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from actors import tracing
from inventory.commands import Command, Result
from inventory.desk import ShardUnavailable

log = logging.getLogger(__name__)

Send = Callable[[int, list[Command]], Awaitable[list[Result]]]
Waiting = tuple[Command, asyncio.Future[Result], tracing.SpanContext | None]
PROTOCOL = 5
CALL_TIMEOUT = 3.0  # seconds; config ray.call_timeout_s, THREADCOUNT_CALL_TIMEOUT


class ShardRouter:
    def __init__(self, send: Send, shard_count: int, max_batch: int = 1000, max_inflight: int = 1,
                 linger: float = 0.001, call_timeout: float | None = CALL_TIMEOUT):
        """`call_timeout`: seconds a call, and a caller, waits for a shard (None: no bound)."""
        self.shard_count = shard_count
        self._send = send
        self._max_batch, self._linger = max_batch, linger
        self._timeout = call_timeout
        self._pending: list[list[Waiting]] = [[] for _ in range(shard_count)]
        self._wake = [asyncio.Event() for _ in range(shard_count)]
        self._slots = [asyncio.Semaphore(max_inflight) for _ in range(shard_count)]
        self._tasks: set[asyncio.Task[Any]] = set()
        self._flushers = [asyncio.create_task(self._flush(i)) for i in range(shard_count)]
        self.batches_sent = 0
        self.commands_sent = 0
        self.calls_timed_out = 0

    @classmethod
    def for_actors(cls, shards: Sequence[Any], **options: Any) -> ShardRouter:
        return cls(actors_send(shards), len(shards), **options)

    async def submit(self, shard: int, command: Command) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending[shard].append((command, future, tracing.here()))
        self._wake[shard].set()
        return await self._bounded(shard, future)

    async def submit_many(self, shard: int, commands: Sequence[Command]) -> list[Result]:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in commands]
        traced = tracing.here()
        self._pending[shard].extend((command, future, traced) for command, future in zip(commands, futures,
                                                                                          strict=True))
        self._wake[shard].set()
        return list(await self._bounded(shard, asyncio.gather(*futures)))

    async def _bounded(self, shard: int, answer: Awaitable[Any]) -> Any:
        """At most `call_timeout` seconds; a command given up on is cancelled, so it is dropped from
        its batch if not sent yet, and a late answer finds its future done."""
        if self._timeout is None:
            return await answer
        try:
            return await asyncio.wait_for(answer, self._timeout)
        except TimeoutError:
            raise ShardUnavailable(f"stock shard {shard} did not answer within {self._timeout:g} s") from None

    async def close(self) -> None:
        """Stop sending; whoever still waits is told the shard is unavailable (a retry is safe)."""
        for task in [*self._flushers, *self._tasks]:
            task.cancel()
        for task in [*self._flushers, *self._tasks]:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for pending in self._pending:
            for _, future, _ in pending:
                if not future.done():
                    future.set_exception(ShardUnavailable("the router is closed"))
            pending.clear()

    async def _flush(self, shard: int) -> None:
        while True:
            await self._wake[shard].wait()
            await self._slots[shard].acquire()
            if self._linger and len(self._pending[shard]) < self._max_batch:
                await asyncio.sleep(self._linger)
            # callers that gave up (timed out) meanwhile are not sent
            self._pending[shard] = [waiting for waiting in self._pending[shard] if not waiting[1].done()]
            batch = self._pending[shard][: self._max_batch]
            del self._pending[shard][: self._max_batch]
            if not self._pending[shard]:
                self._wake[shard].clear()
            if not batch:
                self._slots[shard].release()
                continue
            task = asyncio.create_task(self._call(shard, batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _call(self, shard: int, batch: list[Waiting]) -> None:
        try:
            if self._timeout is None:
                results = await self._traced_send(shard, batch)
            else:
                # on timeout the send is cancelled: Ray's late answer is dropped, the call's slot freed
                results = await asyncio.wait_for(self._traced_send(shard, batch), self._timeout)
            if len(results) != len(batch):
                raise RuntimeError(f"{len(results)} answers to {len(batch)} commands")
        except Exception as exc:
            # The reason stays in our log: Ray's errors carry task reprs, pids and addresses, and the
            # message goes to callers outside (a 503's text).
            if isinstance(exc, TimeoutError):
                self.calls_timed_out += 1
                exc = TimeoutError(f"no answer within {self._timeout:g} s")
            log.warning("stock shard %s failed a batch of %d: %s", shard, len(batch), exc)
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(ShardUnavailable(f"stock shard {shard} did not answer"))
        except asyncio.CancelledError:
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(ShardUnavailable("the router is closed"))
            raise
        else:
            self.batches_sent += 1
            self.commands_sent += len(batch)
            for (_, future, _), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
        finally:
            self._slots[shard].release()

    async def _traced_send(self, shard: int, batch: list[Waiting]) -> list[Result]:
        commands = [command for command, _, _ in batch]
        if not tracing.enabled():
            return await self._send(shard, commands)
        attributes = {"threadcount.shard": shard, "threadcount.commands": len(commands)}
        with tracing.span("shard.call", (traced for _, _, traced in batch), tracing.SpanKind.CLIENT,
                          attributes):
            return await self._send(shard, commands)


def actors_send(shards: Sequence[Any]) -> Send:
    """A router's send to the shard actors (Ray handles, in shard order)."""
    async def send(index: int, commands: list[Command]) -> list[Result]:
        # Packed by the standard pickler: Ray's cloudpickle calls back into Python for every
        # object, which for thousands of small commands cost more than the shard's own work.
        batch = pickle.dumps(commands, PROTOCOL)
        trace = tracing.carrier()  # the shard.call span's, when traced
        call = shards[index].apply_packed
        packed = await (call.remote(batch) if trace is None else call.remote(batch, trace))
        # from one of our own Ray actors, which Ray itself pickles anyway; never from outside
        answers: list[Result] = pickle.loads(packed)  # nosec B301
        return answers

    return send
