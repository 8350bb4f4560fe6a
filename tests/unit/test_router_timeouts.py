"""ShardRouter's bound on a shard that does not answer (a node lost, a shard restarting): every
caller hears ShardUnavailable within `call_timeout`, a late answer changes nothing, and the router's
slots (calls in flight per shard) are neither leaked nor freed twice. A fake send instead of Ray."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from actors.router import ShardRouter
from inventory.commands import Command, Receive, Result, VariantStock
from inventory.desk import ShardUnavailable


class Hanging:
    """A fake send: calls hang until released (or forever), then answer late; the others answer at
    once. Counts what is in flight and what was answered after its caller gave up."""

    def __init__(self) -> None:
        self.hang = True
        self.calls: list[list[Command]] = []
        self.released = asyncio.Event()
        self.inflight = self.most_inflight = 0
        self.late_answers = 0

    async def __call__(self, shard: int, commands: list[Command]) -> list[Result]:
        self.calls.append(list(commands))
        self.inflight += 1
        self.most_inflight = max(self.most_inflight, self.inflight)
        try:
            if self.hang:
                try:
                    await self.released.wait()
                except asyncio.CancelledError:
                    self.late_answers += 1  # the router stopped listening: its answer goes nowhere
                    raise
            return [VariantStock(shard, {}, getattr(c, "quantity", 0)) for c in commands]
        finally:
            self.inflight -= 1


def rcv(n: int) -> Receive:
    return Receive(f"c{n}", 1, 1, n)


def slots(router: ShardRouter, shard: int = 0) -> int:
    return router._slots[shard]._value  # free slots: max_inflight when nothing is in flight


async def test_every_caller_of_a_hanging_shard_hears_shard_unavailable_within_the_call_timeout() -> None:
    send = Hanging()
    router = ShardRouter(send, 1, call_timeout=0.2)
    try:
        began = time.monotonic()
        answers = await asyncio.gather(*(router.submit(0, rcv(n)) for n in range(50)),
                                       router.submit_many(0, [rcv(100), rcv(101)]), return_exceptions=True)
        waited = time.monotonic() - began
        assert all(isinstance(a, ShardUnavailable) for a in answers), answers
        assert "did not answer within 0.2 s" in str(answers[0])
        assert waited < 0.4  # one timeout, not one per call queued behind the hanging one
    finally:
        await router.close()


async def test_a_caller_queued_behind_a_hanging_call_is_bounded_from_its_own_submit() -> None:
    send = Hanging()
    router = ShardRouter(send, 1, call_timeout=0.3)
    try:
        first = asyncio.ensure_future(router.submit(0, rcv(1)))
        await asyncio.sleep(0.2)  # the first call holds the only slot for 0.1 s more
        began = time.monotonic()
        second: Any = await asyncio.gather(router.submit(0, rcv(2)), return_exceptions=True)
        assert isinstance(second[0], ShardUnavailable)
        assert time.monotonic() - began < 0.45
        assert isinstance((await asyncio.gather(first, return_exceptions=True))[0], ShardUnavailable)
    finally:
        await router.close()


async def test_a_late_answer_leaves_the_slots_as_they_were_and_the_router_working() -> None:
    send = Hanging()
    router = ShardRouter(send, 2, max_inflight=2, call_timeout=0.1)
    try:
        for round_ in range(3):
            answers = await asyncio.gather(*(router.submit(0, rcv(n)) for n in range(10)),
                                           return_exceptions=True)
            assert all(isinstance(a, ShardUnavailable) for a in answers)
            await asyncio.sleep(0.05)
            assert slots(router) == 2, f"round {round_}: a slot leaked or was freed twice"
        assert send.most_inflight <= 2
        send.released.set()  # the shard comes back: whatever it answers late goes nowhere
        await asyncio.sleep(0.05)
        assert slots(router) == 2 and send.inflight == 0
        assert send.late_answers >= 3
        assert not router._tasks  # no call task left waiting
        send.hang = False
        assert await router.submit(0, rcv(7)) == VariantStock(0, {}, 7)
        assert slots(router) == 2
    finally:
        await router.close()


async def test_a_command_whose_caller_gave_up_before_it_was_sent_is_not_sent() -> None:
    send = Hanging()
    router = ShardRouter(send, 1, max_batch=1, call_timeout=0.1)
    try:
        # one command a call: the first hangs; the second goes when the first times out; the third
        # would go after the second times out, but by then its caller has given up
        first = asyncio.ensure_future(router.submit(0, rcv(1)))
        await asyncio.sleep(0.05)
        answers = await asyncio.gather(first, *(router.submit(0, rcv(n)) for n in (2, 3)), return_exceptions=True)
        assert all(isinstance(a, ShardUnavailable) for a in answers)
        await asyncio.sleep(0.3)
        sent = [c.quantity for call in send.calls for c in call if isinstance(c, Receive)]
        assert sent == [1, 2]
        assert slots(router) == 1
    finally:
        await router.close()


async def test_without_a_call_timeout_a_slow_shard_is_waited_for() -> None:
    send = Hanging()
    router = ShardRouter(send, 1, call_timeout=None)
    try:
        caller = asyncio.ensure_future(router.submit(0, rcv(5)))
        await asyncio.sleep(0.2)
        assert not caller.done()
        send.released.set()
        assert await caller == VariantStock(0, {}, 5)
    finally:
        await router.close()
