"""When a shard publishes its committed stock to the hub (actors/stock_publisher.py), with a fake send
instead of Ray: at once after a quiet spell, at most once every `every` seconds under load, the newest
level of a variant with the trace of the batch that made it."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from actors.stock_publisher import StockPublisher
from inventory.commands import VariantStock
from inventory.events import StockChanged


def stock(variant_id: int, on_hand: int) -> VariantStock:
    return VariantStock(variant_id, {1: (on_hand, 0)}, 0)


class Hub:
    def __init__(self, fails: int = 0) -> None:
        self.sent: list[tuple[float, list[StockChanged]]] = []
        self.fails = fails

    async def send(self, facts: list[StockChanged]) -> None:
        if self.fails:
            self.fails -= 1
            raise ConnectionError("the hub is restarting")
        self.sent.append((asyncio.get_running_loop().time(), facts))


async def settle(seconds: float = 0.0) -> None:
    await asyncio.sleep(seconds)
    for _ in range(3):
        await asyncio.sleep(0)


async def test_a_change_after_a_quiet_spell_is_published_at_once() -> None:
    hub = Hub()
    publisher = StockPublisher(hub.send, every=5.0)
    began = asyncio.get_running_loop().time()
    publisher.add([stock(1, 10)])
    await settle()
    assert [[fact.stock for fact in facts] for _, facts in hub.sent] == [[stock(1, 10)]]
    assert hub.sent[0][0] - began < 0.05  # not after `every`


async def test_under_load_it_publishes_at_most_once_every_period_with_each_variants_newest_level() -> None:
    hub = Hub()
    every = 0.05
    publisher = StockPublisher(hub.send, every=every)
    began = asyncio.get_running_loop().time()
    for n in range(60):  # a commit every 5 ms for 0.3 s
        publisher.add([stock(n % 3, 100 - n)])
        await asyncio.sleep(0.005)
    took = asyncio.get_running_loop().time() - began
    await settle(every * 2)
    times = [at for at, _ in hub.sent]
    assert len(times) <= took / every + 2  # against 60 commits
    assert all(b - a >= every * 0.9 for a, b in itertools.pairwise(times))
    last_seen = {fact.stock.variant_id: fact.stock for _, facts in hub.sent for fact in facts}
    assert last_seen == {n % 3: stock(n % 3, 100 - n) for n in range(57, 60)}  # nothing lost, newest wins
    assert publisher.publishes == len(hub.sent)


async def test_changes_made_in_one_turn_of_the_loop_go_out_together() -> None:
    hub = Hub()
    publisher = StockPublisher(hub.send, every=5.0)
    publisher.add([stock(1, 1)])
    publisher.add([stock(2, 2)], {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})
    await settle()
    assert len(hub.sent) == 1
    assert {fact.stock.variant_id for fact in hub.sent[0][1]} == {1, 2}


async def test_a_variant_keeps_the_trace_of_the_batch_that_changed_it_when_a_later_batch_has_none() -> None:
    hub = Hub()
    publisher = StockPublisher(hub.send, every=0.05)
    publisher.add([stock(9, 0)])  # goes out at once
    await settle()
    traced = {"traceparent": "00-" + "c" * 32 + "-" + "d" * 16 + "-01"}
    publisher.add([stock(1, 5)], traced)
    publisher.add([stock(1, 4)])
    await settle(0.1)
    assert [(fact.stock, fact.trace) for fact in hub.sent[-1][1]] == [(stock(1, 4), traced)]


async def test_a_failed_publish_is_logged_and_the_next_change_still_goes_out(
        caplog: pytest.LogCaptureFixture) -> None:
    hub = Hub(fails=1)
    publisher = StockPublisher(hub.send, every=0.02, name="shard 3")
    with caplog.at_level(logging.WARNING, logger="actors.stock_publisher"):
        publisher.add([stock(1, 1)])
        await settle()
    assert "shard 3: could not publish stock events: the hub is restarting" in caplog.text
    publisher.add([stock(1, 2)])
    await settle(0.05)
    assert [fact.stock for fact in hub.sent[-1][1]] == [stock(1, 2)]
