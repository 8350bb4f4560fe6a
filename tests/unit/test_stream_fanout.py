"""The dashboard streams' fan-out (web/dashboard/fanout.py): one render per event whatever the number
of streams, slow streams dropped without holding up the others, resume after a last event id. No
server: events are handed in through a fake feed and the renderer counts its calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from service.events import LiveEvent
from web.dashboard import fanout as fanouts
from web.dashboard.fanout import Fanout, Subscriber, flush_interval


class FakeFeed:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue()
        self.rendered: list[int] = []
        self.followers = 0  # subscriptions open now

    async def subscribe(self) -> AsyncIterator[LiveEvent]:
        self.followers += 1
        try:
            while True:
                yield await self.queue.get()
        finally:
            self.followers -= 1

    async def encode(self, live: LiveEvent) -> bytes:
        self.rendered.append(live.seq)
        return f"id: {live.seq}\r\nevent: stock-{live.data['variant_id']}\r\ndata: row\r\n\r\n".encode()


def stock(seq: int, variant_id: int) -> LiveEvent:
    return LiveEvent(seq, "stock", {"variant_id": variant_id})


async def received(subscriber: Subscriber) -> bytes:
    chunk = await asyncio.wait_for(subscriber.next(), 2)
    assert chunk is not None, "the stream ended"
    return chunk


async def test_an_event_is_rendered_once_however_many_streams_are_open() -> None:
    feed = FakeFeed()
    fanout = Fanout(feed.subscribe, feed.encode, every=0)
    streams = [fanout.join(frozenset({"stock", "variant"}), None) for _ in range(50)]
    feed.queue.put_nowait(stock(1, 7))
    chunks = [await received(stream) for stream in streams]
    fanout.close()
    assert feed.rendered == [1] and fanout.renders == 1
    assert set(chunks) == {b"id: 1\r\nevent: stock-7\r\ndata: row\r\n\r\n"}


async def test_a_stream_filtered_to_other_topics_gets_nothing_of_a_stock_event() -> None:
    feed = FakeFeed()
    fanout = Fanout(feed.subscribe, feed.encode, every=0)
    alerts, rows = fanout.join(frozenset({"alert"}), None), fanout.join(frozenset({"stock"}), None)
    feed.queue.put_nowait(stock(1, 7))
    await received(rows)
    await asyncio.sleep(0.05)
    fanout.close()
    assert await asyncio.wait_for(alerts.next(), 1) is None, "ended at close, without a chunk before"


async def test_changes_to_one_variant_within_a_flush_are_sent_as_its_newest_row_only() -> None:
    feed = FakeFeed()
    fanout = Fanout(feed.subscribe, feed.encode, every=0.2)
    stream = fanout.join(None, None)
    feed.queue.put_nowait(stock(1, 7))
    await received(stream)  # the first after a quiet spell goes at once
    for seq in (2, 3, 4):
        feed.queue.put_nowait(stock(seq, 7))
    chunk = await received(stream)
    fanout.close()
    assert chunk.startswith(b"id: 4\r\n") and b"id: 2" not in chunk and b"id: 3" not in chunk
    assert feed.rendered == [1, 4]


async def test_a_stream_that_never_reads_is_dropped_without_delaying_the_others() -> None:
    feed = FakeFeed()
    fanout = Fanout(feed.subscribe, feed.encode, every=0)
    slow, fast = fanout.join(None, None), fanout.join(None, None)
    for seq in range(1, 41):  # twice the backlog a stream may have
        feed.queue.put_nowait(stock(seq, seq))
        assert (await received(fast)).startswith(f"id: {seq}\r\n".encode()), "the fast stream kept up"
    fanout.close()
    assert slow.ended and await slow.next() is None, "the slow stream was cut off"
    assert fanout.streams() == 0


async def test_a_reconnecting_stream_gets_the_newest_row_of_each_variant_changed_after_its_last_id() -> None:
    feed = FakeFeed()
    fanout = Fanout(feed.subscribe, feed.encode, every=0)
    watching = fanout.join(None, None)
    for live in (stock(1, 7), stock(2, 8), stock(3, 7), stock(4, 9)):
        feed.queue.put_nowait(live)
        await received(watching)
    resumed = fanout.join(None, last_id=2)
    replayed = await received(resumed)
    from_start = await received(fanout.join(None, last_id=0))
    fresh = fanout.join(None, None)
    feed.queue.put_nowait(stock(5, 8))
    live_after = await received(resumed)
    assert await received(fresh) == live_after
    fanout.close()
    assert replayed == b"id: 3\r\nevent: stock-7\r\ndata: row\r\n\r\nid: 4\r\nevent: stock-9\r\ndata: row\r\n\r\n"
    assert [line for line in from_start.split(b"\r\n") if line.startswith(b"id:")] == [b"id: 2", b"id: 3", b"id: 4"]
    assert live_after.startswith(b"id: 5\r\n")
    assert feed.rendered == [1, 2, 3, 4, 5], "replays send the rendered bytes, nothing rendered again"


async def test_each_flush_is_prepared_once_with_all_its_events_before_any_is_rendered() -> None:
    feed = FakeFeed()
    prepared: list[tuple[list[int], list[int]]] = []

    async def prepare(batch: list[LiveEvent]) -> None:
        prepared.append(([live.seq for live in batch], list(feed.rendered)))

    fanout = Fanout(feed.subscribe, feed.encode, every=0.2, prepare=prepare)
    stream = fanout.join(None, None)
    feed.queue.put_nowait(stock(1, 7))
    await received(stream)
    for seq in (2, 3, 4):
        feed.queue.put_nowait(stock(seq, seq))
    await received(stream)
    fanout.close()
    assert prepared == [([1], []), ([2, 3, 4], [1])]


def test_flushes_grow_apart_with_the_bytes_of_the_last_one_within_the_shortest_and_longest_interval() -> None:
    assert flush_interval(0, budget=1_000_000, shortest=0.25, longest=0.6) == 0.25
    assert flush_interval(100_000, budget=1_000_000, shortest=0.25, longest=0.6) == 0.25
    assert flush_interval(400_000, budget=1_000_000, shortest=0.25, longest=0.6) == 0.4
    assert flush_interval(50_000_000, budget=1_000_000, shortest=0.25, longest=0.6) == 0.6
    assert flush_interval(50_000_000, budget=1_000_000, shortest=0.25, longest=0.1) == 0.25


async def test_a_flush_over_the_byte_budget_holds_the_next_one_back_and_counts_every_streams_bytes() -> None:
    feed = FakeFeed()
    fanout = Fanout(feed.subscribe, feed.encode, every=0, longest=0.3, budget=100)  # 100 bytes a second
    streams = [fanout.join(None, None) for _ in range(2)]
    feed.queue.put_nowait(stock(1, 7))
    first, _ = [await received(stream) for stream in streams]
    flushed = asyncio.get_running_loop().time()
    feed.queue.put_nowait(stock(2, 8))
    await received(streams[0])
    waited = asyncio.get_running_loop().time() - flushed
    fanout.close()
    assert fanout.interval == 0.3, "two streams' bytes over 100 a second: the longest interval"
    assert 0.25 <= waited < 1.0, "the next change waited for the next flush, which came in its time"
    assert fanout.sent == 2 * len(first) * 2


async def test_a_flush_within_the_byte_budget_leaves_the_shortest_interval() -> None:
    feed = FakeFeed()
    fanout = Fanout(feed.subscribe, feed.encode, every=0.05, longest=5, budget=1_000_000)
    stream = fanout.join(None, None)
    for seq in (1, 2):
        feed.queue.put_nowait(stock(seq, seq))
        await received(stream)
    fanout.close()
    assert fanout.interval == 0.05


async def test_with_no_stream_left_a_while_the_fanout_stops_following_and_rendering_until_the_next(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanouts, "IDLE_STOP", 0.2)
    feed = FakeFeed()
    fanout = Fanout(feed.subscribe, feed.encode, every=0)
    first = fanout.join(None, None)
    feed.queue.put_nowait(stock(1, 7))
    await received(first)
    fanout.leave(first)
    back = fanout.join(None, last_id=0)  # a reload within IDLE_STOP: nothing stops
    assert await received(back) == b"id: 1\r\nevent: stock-7\r\ndata: row\r\n\r\n", "the replay"
    fanout.leave(back)
    await asyncio.sleep(0.4)
    assert feed.followers == 0, "no longer following: nothing is rendered"
    again = fanout.join(None, last_id=0)
    feed.queue.put_nowait(stock(2, 8))
    chunk = await received(again)
    fanout.close()
    assert chunk == b"id: 2\r\nevent: stock-8\r\ndata: row\r\n\r\n", "following again, the old replay forgotten"
    assert feed.rendered == [1, 2]


async def test_a_nudge_wakes_only_a_stream_that_no_chunk_woke_since_the_last_one() -> None:
    from web.dashboard.deflate import Chunk

    fed, idle = Subscriber(None), Subscriber(None)
    assert fed.offer(Chunk(b"data: row\r\n\r\n"))
    assert await received(fed) == b"data: row\r\n\r\n"
    fed.nudge()
    idle.nudge()
    assert await received(idle) == b""  # woken for nothing but its session check
    with pytest.raises(TimeoutError):  # the chunk woke it: this nudge does not
        await asyncio.wait_for(fed.next(), 0.05)
    fed.nudge()  # nothing came since the last nudge: woken, 2 nudges after its last chunk at most
    assert await received(fed) == b""
