"""The shard relay (service/shard_relay.py) over a real Unix socket: web workers' batches reach the
primary's router, merged with each other's into fewer shard calls, and come back to their own
callers; a failure anywhere answers ShardUnavailable (a 503), never a hang. A fake send stands in for
the Ray shards."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors.router import ShardRouter
from inventory.commands import Command, Receive, Result, VariantStock
from inventory.desk import ShardUnavailable
from service.shard_relay import RelayClient, RelayServer, relay_path, serve_relay


class Shards:
    """A fake send: answers each Receive with its quantity as the stock, after a short pause (so
    commands pile up behind a call in flight); fails every call while `down`."""

    def __init__(self) -> None:
        self.calls: list[list[Command]] = []
        self.down = False

    async def __call__(self, shard: int, commands: list[Command]) -> list[Result]:
        self.calls.append(list(commands))
        await asyncio.sleep(0.005)
        if self.down:
            raise ConnectionError("the shard's node is gone")
        return [VariantStock(shard, {}, getattr(c, "quantity", 0)) for c in commands]


def receive(n: int) -> Receive:
    return Receive(variant_id=n, location_id=1, quantity=n, command_id=f"c{n}")


@pytest.fixture
async def folder() -> AsyncIterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tc-relay-") as name:  # short: Unix socket paths are limited
        yield Path(name)


async def primary(folder: Path, shards: Shards) -> tuple[ShardRouter, RelayServer]:
    router = ShardRouter(shards, shard_count=2, linger=0.001, call_timeout=2.0)
    return router, await serve_relay(relay_path(folder), router)


def worker(folder: Path, call_timeout: float = 2.0) -> tuple[ShardRouter, RelayClient]:
    client = RelayClient(relay_path(folder))
    return ShardRouter(client.send, shard_count=2, linger=0.001, call_timeout=call_timeout), client


@contextlib.asynccontextmanager
async def two_workers(folder: Path, shards: Shards) -> AsyncIterator[list[ShardRouter]]:
    """The primary's router and relay, and two workers' routers through it; all closed after."""
    router, server = await primary(folder, shards)
    workers = [worker(folder) for _ in range(2)]
    try:
        yield [worker_router for worker_router, _ in workers]
    finally:
        for worker_router, client in workers:
            await worker_router.close()
            await client.close()
        server.close()
        await router.close()


async def test_each_workers_commands_come_back_to_their_own_callers_with_the_shards_answers(folder: Path) -> None:
    async with two_workers(folder, Shards()) as workers:
        answers = await asyncio.gather(*(workers[i % 2].submit(i % 2, receive(i)) for i in range(1, 201)))
        assert [answer.backordered for answer in answers if isinstance(answer, VariantStock)] == list(range(1, 201))
        assert all(answer.variant_id == i % 2 for i, answer in enumerate(answers, 1)
                   if isinstance(answer, VariantStock))


async def test_two_workers_commands_reach_the_shards_in_fewer_calls_than_they_sent_batches(folder: Path) -> None:
    shards = Shards()
    async with two_workers(folder, shards) as workers:
        await asyncio.gather(*(workers[i % 2].submit(0, receive(i)) for i in range(1, 401)))
        sent_by_workers = sum(w.batches_sent for w in workers)
        assert sum(len(call) for call in shards.calls) == 400
        assert len(shards.calls) < sent_by_workers  # one router per machine: the workers' batches merged


async def test_a_shard_that_fails_answers_the_workers_callers_shard_unavailable(folder: Path) -> None:
    shards = Shards()
    shards.down = True
    router, server = await primary(folder, shards)
    worker_router, client = worker(folder)
    try:
        with pytest.raises(ShardUnavailable):
            await worker_router.submit(1, receive(7))
        shards.down = False
        assert isinstance(await worker_router.submit(1, receive(8)), VariantStock)  # the same connection
    finally:
        await worker_router.close()
        await client.close()
        server.close()
        await router.close()


async def test_a_primary_that_goes_away_answers_waiting_callers_at_once_and_a_new_one_is_reached_again(
        folder: Path) -> None:
    shards = Shards()
    router, server = await primary(folder, shards)
    worker_router, client = worker(folder, call_timeout=10.0)
    try:
        assert isinstance(await worker_router.submit(0, receive(1)), VariantStock)
        gate = asyncio.Event()

        async def stalled(shard: int, commands: list[Command]) -> list[Result]:
            await gate.wait()
            return []

        router._send = stalled  # the next call hangs in the primary
        waiting = asyncio.ensure_future(worker_router.submit(0, receive(2)))
        await asyncio.sleep(0.1)
        server.close()  # the primary stops: its connections close
        started = asyncio.get_running_loop().time()
        with pytest.raises(ShardUnavailable):
            await waiting
        assert asyncio.get_running_loop().time() - started < 2.0  # not the 10 s call timeout

        gate.set()
        await router.close()
        router, server = await primary(folder, Shards())  # a new primary on the same path
        assert isinstance(await worker_router.submit(0, receive(3)), VariantStock)
    finally:
        await worker_router.close()
        await client.close()
        server.close()
        await router.close()


async def test_no_relay_to_connect_to_answers_shard_unavailable(folder: Path) -> None:
    worker_router, client = worker(folder)
    try:
        with pytest.raises(ShardUnavailable):
            await worker_router.submit(0, receive(1))
    finally:
        await worker_router.close()
        await client.close()
