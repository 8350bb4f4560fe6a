"""The caller's side of the shards: partitioning, the result codec and ShardRouter's batching, with a
fake `send` instead of Ray."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from actors.router import Send, ShardRouter
from inventory.codec import result_from_json, result_to_json
from inventory.commands import (
    Command,
    Failure,
    Receive,
    Result,
    VariantStock,
)
from inventory.desk import ShardUnavailable
from inventory.partition import OrderSeqs, shard_of

# -- partition and codec -------------------------------------------------------------------------


def test_a_variant_always_hashes_to_the_same_shard() -> None:
    # pinned: web processes and shard actors started at other times must agree on the owner
    assert [shard_of(v, 4) for v in (1, 2, 3, 4, 1000)] == [1, 2, 3, 0, 0]
    assert (shard_of(123456789, 7), shard_of(42, 3), shard_of(2**40 + 3, 5)) == (1, 2, 2)
    assert all(shard_of(v, 4) == shard_of(v, 4) for v in range(100))


def test_sequential_variant_ids_spread_evenly_over_the_shards() -> None:
    counts = Counter(shard_of(v, 4) for v in range(1, 1001))
    assert set(counts) == {0, 1, 2, 3}
    assert all(200 <= n <= 300 for n in counts.values()), counts


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 16])
def test_every_variant_lands_on_a_shard_that_exists(count: int) -> None:
    assert {shard_of(v, count) for v in range(1, 500)} == set(range(count))


@pytest.mark.parametrize("result", [
    VariantStock(7, {1: (10, 3), 22: (0, 0)}, 4),
    VariantStock(8, {}, 0),
    Failure("below_reserved", "delta: on_hand would be -1, below the 2 units reserved"),
    Failure("not_found", "order x does not exist"),
])
def test_a_result_survives_the_json_round_trip(result: Failure | VariantStock) -> None:
    assert result_from_json(result_to_json(result)) == result


def test_a_failure_stored_with_its_old_http_status_is_still_read() -> None:
    old = '{"failure": ["not_found", "order x does not exist", 404]}'
    assert result_from_json(old) == Failure("not_found", "order x does not exist")


# -- ShardRouter ---------------------------------------------------------------------------------


class Recorder:
    """A fake send that answers each command with a VariantStock naming the shard and the command."""

    def __init__(self, delay: float = 0.0, fail: bool = False):
        self.calls: list[tuple[int, list[Command]]] = []
        self.delay, self.fail = delay, fail
        self.inflight = self.most_inflight = 0

    async def __call__(self, shard: int, commands: list[Command]) -> list[Result]:
        self.calls.append((shard, list(commands)))
        self.inflight += 1
        self.most_inflight = max(self.most_inflight, self.inflight)
        try:
            await asyncio.sleep(self.delay)
            if self.fail:
                raise ConnectionError("actor died")
            return [VariantStock(shard, {}, _quantity(c)) for c in commands]
        finally:
            self.inflight -= 1


def _quantity(command: Command) -> int:
    assert isinstance(command, Receive)
    return command.quantity


def rcv(n: int, variant: int = 1) -> Receive:
    return Receive(f"c{n}", variant, 1, n)


@asynccontextmanager
async def router_for(send: Send, shard_count: int = 2, **options: Any) -> AsyncIterator[ShardRouter]:
    router = ShardRouter(send, shard_count, **options)
    try:
        yield router
    finally:
        await router.close()


async def test_many_concurrent_submits_are_sent_in_few_calls() -> None:
    send = Recorder()
    async with router_for(send) as router:
        results = await asyncio.gather(*(router.submit(0, rcv(n)) for n in range(200)))
    assert len(send.calls) <= 3
    assert sum(len(commands) for _, commands in send.calls) == 200
    assert (router.batches_sent, router.commands_sent) == (len(send.calls), 200)
    assert [r.backordered for r in results if isinstance(r, VariantStock)] == list(range(200))


async def test_each_caller_gets_its_own_result_from_its_own_shard() -> None:
    send = Recorder(delay=0.001)
    async with router_for(send, shard_count=3) as router:
        results = await asyncio.gather(*(router.submit(n % 3, rcv(n)) for n in range(90)))
    assert all(isinstance(r, VariantStock) for r in results)
    assert [(r.variant_id, r.backordered) for r in results if isinstance(r, VariantStock)] == [
        (n % 3, n) for n in range(90)
    ]
    for shard, commands in send.calls:
        assert all(_quantity(c) % 3 == shard for c in commands)


async def test_a_shard_receives_commands_in_the_order_they_were_submitted() -> None:
    send = Recorder(delay=0.002)
    async with router_for(send, max_batch=7) as router:
        callers = []
        for n in range(30):
            callers.append(asyncio.ensure_future(router.submit(1, rcv(n))))
            if n % 4 == 0:
                await asyncio.sleep(0.001)
        await asyncio.gather(*callers)
        sent = [_quantity(c) for _, commands in send.calls for c in commands]
    assert sent == list(range(30))


async def test_submit_many_answers_in_the_order_given() -> None:
    send = Recorder()
    async with router_for(send) as router:
        results = await router.submit_many(1, [rcv(n) for n in (5, 3, 9)])
    assert [r.backordered for r in results if isinstance(r, VariantStock)] == [5, 3, 9]
    assert [shard for shard, _ in send.calls] == [1]


async def test_a_failing_send_gives_shard_unavailable_to_every_caller_of_that_batch() -> None:
    send = Recorder(fail=True)
    async with router_for(send) as router:
        answers = await asyncio.gather(*(router.submit(0, rcv(n)) for n in range(20)),
                                       return_exceptions=True)
        assert all(isinstance(a, ShardUnavailable) for a in answers), answers
        # what went wrong inside (Ray's reprs, pids, addresses) is logged, never told to the caller
        assert str(answers[0]) == "stock shard 0 did not answer"
        assert router.batches_sent == 0
        send.fail = False  # the router keeps working once the shard is back
        assert isinstance(await router.submit(0, rcv(1)), VariantStock)


async def test_a_failing_shard_does_not_fail_the_callers_of_another() -> None:
    async def send(shard: int, commands: list[Command]) -> list[Result]:
        if shard == 0:
            raise ConnectionError("shard 0 is down")
        return [VariantStock(shard, {}, 0) for _ in commands]

    async with router_for(send) as router:
        down, up = await asyncio.gather(router.submit(0, rcv(1)), router.submit(1, rcv(2)),
                                        return_exceptions=True)
    assert isinstance(down, ShardUnavailable)
    assert up == VariantStock(1, {}, 0)


async def test_no_call_carries_more_than_max_batch_commands() -> None:
    send = Recorder(delay=0.002)
    async with router_for(send, max_batch=10) as router:
        results = await asyncio.gather(*(router.submit(0, rcv(n)) for n in range(95)))
    assert len(results) == 95
    assert max(len(commands) for _, commands in send.calls) == 10
    assert len(send.calls) >= 10


async def test_no_shard_gets_more_than_max_inflight_calls_at_once() -> None:
    send = Recorder(delay=0.005)
    async with router_for(send, max_batch=5, max_inflight=2) as router:
        await asyncio.gather(*(router.submit(0, rcv(n)) for n in range(40)))
    assert send.most_inflight == 2


async def test_a_lone_command_goes_without_waiting_for_company() -> None:
    send = Recorder()
    async with router_for(send, linger=0.001) as router:
        result = await asyncio.wait_for(router.submit(0, rcv(3)), timeout=0.5)
    assert result == VariantStock(0, {}, 3)


def test_order_storage_keys_rise_and_never_collide_between_generators() -> None:
    shard, web = OrderSeqs(1), OrderSeqs(130)
    keys = [generator.next() for _ in range(5000) for generator in (shard, web)]
    assert len(set(keys)) == len(keys)
    assert keys[::2] == sorted(keys[::2]) and keys[1::2] == sorted(keys[1::2])
    assert max(keys) < 2**63  # fits a BIGINT
