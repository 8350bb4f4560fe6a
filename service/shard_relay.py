"""The web workers' way to the stock shards: through the primary's ShardRouter, over a Unix socket.

Why not straight to the shards: each shard applies a call's commands in one group, and a call has a
fixed cost (Ray's transport, the actor's scheduling, a pickled batch each way). With N processes
each running its own router, a shard got N times the calls at 1/N the size for the same orders: its
CPU per order doubled with two web processes (0.41-0.47 ms to 0.8-1.0 ms, measured), and on two
cores two web processes took 17-40% fewer orders than one. Through the relay, one router per machine
gathers every process's commands, so the shards see the calls of a single process whatever the
number of workers.

A worker's ShardRouter sends its batches here instead of to Ray (`RelayClient.send`); the primary
(`serve_relay`) hands each batch's commands to its own router, which merges them with its own
commands, and answers with the results. Guarantees are the router's: a batch's callers are
answered after the shard's commit; a batch given up on (the caller's call timeout, the primary's
router timeout, the primary gone) answers ShardUnavailable, retry-safe since every command is
idempotent on its order or command id.

Frames, both ways: a 4-byte big-endian length, then a pickle: (request id, shard, commands, trace
carrier) to the primary, (request id, results or None, error text) back. The socket lives in the
primary's private folder (0700, the socket itself 0600), so only this user's processes (the
service's own) reach it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actors import tracing
from inventory.commands import Command, Result
from inventory.desk import Router, ShardUnavailable

log = logging.getLogger(__name__)
HEADER = struct.Struct("!I")
PROTOCOL = 5
MAX_FRAME = 64 * 1024 * 1024  # a batch of max_batch commands is far below this


def relay_path(folder: Path) -> Path:
    """The primary's relay socket, in the folder of its other worker sockets."""
    return folder / "shards.sock"


def frame(payload: Any) -> bytes:
    body = pickle.dumps(payload, PROTOCOL)
    return HEADER.pack(len(body)) + body


async def read_frame(reader: asyncio.StreamReader) -> Any:
    """The next frame's payload; IncompleteReadError at the end of the stream."""
    (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
    if size > MAX_FRAME:
        raise ValueError(f"a relay frame of {size} bytes")
    # from this user's own processes only (the socket's folder is 0700): the service's workers
    return pickle.loads(await reader.readexactly(size))  # nosec B301


class WorkersServer:
    """A Unix socket server of the primary's for its web workers, in its private folder (0700, the
    socket 0600), and the workers' connections to it."""

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, path: Path) -> None:
        self._server = await asyncio.start_unix_server(self._connection, path=str(path))
        path.chmod(0o600)

    def close(self) -> None:
        """No new connection; each open one ends (so a worker waiting on it hears at once)."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class RelayServer(WorkersServer):
    """The primary's side: each batch a worker sends goes to `router` (mixed with the primary's own
    commands); its answer goes back when the router has it."""

    def __init__(self, router: Router):
        super().__init__()
        self._router = router

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        handling: set[asyncio.Task[None]] = set()
        try:
            while True:
                request = await read_frame(reader)
                task = asyncio.ensure_future(_answer(self._router, request, writer))
                handling.add(task)
                task.add_done_callback(handling.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker went away: what it sent still completes in the shards
        except Exception as exc:
            log.warning("shard relay: a worker's connection failed: %s", exc)
        finally:
            self._writers.discard(writer)
            for task in handling:
                task.cancel()
            writer.close()


async def serve_relay(path: Path, router: Router) -> RelayServer:
    relay = RelayServer(router)
    await relay.start(path)
    return relay


async def _answer(router: Router, request: tuple[int, int, list[Command], Any],
                  writer: asyncio.StreamWriter) -> None:
    request_id, shard, commands, trace = request
    try:
        with tracing.span("relay.batch", [tracing.remote(trace)], tracing.SpanKind.SERVER,
                          {"threadcount.shard": shard, "threadcount.commands": len(commands)}):
            results: list[Result] | None = await router.submit_many(shard, commands)
        error = ""
    except ShardUnavailable as exc:
        results, error = None, str(exc)
    except Exception as exc:  # the batch failed as a whole: its callers hear 503, the log says why
        log.warning("shard relay: a batch of %d for shard %d failed: %s", len(commands), shard, exc)
        results, error = None, f"stock shard {shard} did not answer"
    if not writer.is_closing():
        writer.write(frame((request_id, results, error)))


class RelayClient:
    """A worker's side: `send` has ShardRouter's Send signature. One connection, opened at the first
    send and again after a loss; answers are matched to their batch by request id."""

    def __init__(self, path: Path):
        self._path = path
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._connecting = asyncio.Lock()
        self._waiting: dict[int, asyncio.Future[list[Result]]] = {}
        self._next_id = 0

    async def send(self, shard: int, commands: Sequence[Command]) -> list[Result]:
        writer = await self._connected()
        self._next_id += 1
        request_id = self._next_id
        answer: asyncio.Future[list[Result]] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = answer
        try:
            writer.write(frame((request_id, shard, list(commands), tracing.carrier())))
            return await answer
        finally:
            self._waiting.pop(request_id, None)  # answered, or given up on by the router's timeout

    async def _connected(self) -> asyncio.StreamWriter:
        async with self._connecting:
            if self._writer is None or self._writer.is_closing():
                try:
                    reader, self._writer = await asyncio.open_unix_connection(str(self._path))
                except OSError as exc:
                    raise ShardUnavailable("the primary web process does not answer") from exc
                self._reader_task = asyncio.ensure_future(self._read(reader, self._writer))
            return self._writer

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request_id, results, error = await read_frame(reader)
                answer = self._waiting.get(request_id)
                if answer is None or answer.done():
                    continue
                if results is None:
                    answer.set_exception(ShardUnavailable(error or "the stock shard did not answer"))
                else:
                    answer.set_result(results)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception as exc:
            log.warning("shard relay: reading answers failed: %s", exc)
        finally:
            writer.close()  # the next send connects again
            for answer in self._waiting.values():
                if not answer.done():
                    answer.set_exception(ShardUnavailable("the primary web process went away"))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
