"""The dashboard's frames from the primary to its web workers (web/dashboard/frames.py), over a real
Unix socket: each event is rendered once, by the primary, for the streams of every process; a
worker's reconnecting stream resumes from the primary's replay; a reset or a lost primary ends the
worker's streams; a worker that stops reading is cut off without slowing the primary's streams; and
the workers' bytes count in the flushes' byte budget. A fake feed stands in for the event hub."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from service.events import Dropped, LiveEvent
from tests.unit.test_stream_fanout import FakeFeed, received, stock
from web.dashboard import frames
from web.dashboard.fanout import Fanout, Subscriber
from web.dashboard.frames import FrameServer, RelayedStreams, frames_path, serve_frames


@pytest.fixture
def folder() -> AsyncIterator[Path]:
    with tempfile.TemporaryDirectory(prefix="tc-") as name:  # short: a Unix socket's path is short
        yield Path(name)


async def until(check: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.01)


class Feed(FakeFeed):
    """The fake feed, whose rows can be padded, and which drops its follower at a None."""

    pad = b""

    async def subscribe(self) -> AsyncIterator[LiveEvent]:
        while True:
            live = await self.queue.get()
            if live is None:
                raise Dropped("the feed fell behind")
            yield live

    async def encode(self, live: LiveEvent) -> bytes:
        return (await super().encode(live)).replace(b"data: row", b"data: row" + self.pad)


async def data(subscriber: Subscriber) -> bytes:
    """The stream's next chunk that carries something (not a nudge's b"")."""
    while not (chunk := await received(subscriber)):
        pass
    return chunk


async def connected(streams: RelayedStreams, topics: frozenset[str] | None = None,
                    last_id: int | None = None) -> Subscriber:
    """A worker stream joined once the worker has the primary's replay: the first stream starts the
    connection and is ended when the replay comes (it may have missed frames), and its browser comes
    back like this one."""
    if not streams.replays:
        first = streams.join(topics, None)
        assert await asyncio.wait_for(first.next(), 2) is None, "ended when the replay came"
    return streams.join(topics, last_id)


async def setup(folder: Path, **fanout_options: float) -> tuple[Feed, Fanout, FrameServer]:
    feed = Feed()
    fanout = Fanout(feed.subscribe, feed.encode, **{"every": 0.0, **fanout_options})
    server = await serve_frames(frames_path(folder), lambda: fanout)
    return feed, fanout, server


async def test_an_event_is_rendered_once_for_the_streams_of_the_primary_and_of_every_worker(folder: Path) -> None:
    feed, fanout, server = await setup(folder)
    workers = [RelayedStreams(frames_path(folder)) for _ in range(2)]
    streams = [await connected(worker, frozenset({"stock"})) for worker in workers]
    here = fanout.join(frozenset({"stock"}), None)
    feed.queue.put_nowait(stock(1, 7))
    chunks = [await received(stream) for stream in [here, *streams]]
    for worker in workers:
        worker.close()
    fanout.close()
    server.close()
    assert set(chunks) == {b"id: 1\r\nevent: stock-7\r\ndata: row\r\n\r\n"}
    assert feed.rendered == [1] and fanout.renders == 1


async def test_a_reconnecting_worker_stream_resumes_from_the_primarys_replay(folder: Path) -> None:
    feed, fanout, server = await setup(folder)
    here = fanout.join(None, None)
    for live in (stock(1, 7), stock(2, 8), stock(3, 7)):
        feed.queue.put_nowait(live)
        await received(here)
    worker = RelayedStreams(frames_path(folder))
    resumed = await connected(worker, last_id=1)
    replayed = await received(resumed)
    feed.queue.put_nowait(stock(4, 9))
    live_after = await received(resumed)
    worker.close()
    fanout.close()
    server.close()
    assert replayed == b"id: 2\r\nevent: stock-8\r\ndata: row\r\n\r\nid: 3\r\nevent: stock-7\r\ndata: row\r\n\r\n"
    assert live_after.startswith(b"id: 4\r\n")
    assert feed.rendered == [1, 2, 3, 4]


async def test_a_reset_at_the_primary_ends_the_workers_streams_and_they_take_frames_again(folder: Path) -> None:
    feed, fanout, server = await setup(folder)
    worker = RelayedStreams(frames_path(folder))
    stream = await connected(worker)
    feed.queue.put_nowait(stock(1, 7))
    await received(stream)

    feed.queue.put_nowait(None)  # type: ignore[arg-type]
    assert await asyncio.wait_for(stream.next(), 2) is None, "the worker's stream ended on the reset"
    again = worker.join(None, last_id=1)
    feed.queue.put_nowait(stock(2, 8))
    chunk = await data(again)
    worker.close()
    fanout.close()
    server.close()
    assert chunk.startswith(b"id: 2\r\n")


async def test_a_worker_that_loses_the_primary_ends_its_streams_and_connects_again(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "RECONNECT_AFTER", 0.05)
    feed, fanout, server = await setup(folder)
    worker = RelayedStreams(frames_path(folder))
    stream = await connected(worker)
    server.close()  # the primary's end of every worker's connection
    assert await asyncio.wait_for(stream.next(), 2) is None
    server = await serve_frames(frames_path(folder), lambda: fanout)
    await until(lambda: worker.replays == 2)
    back = await connected(worker)
    feed.queue.put_nowait(stock(1, 7))
    chunk = await received(back)
    worker.close()
    fanout.close()
    server.close()
    assert chunk.startswith(b"id: 1\r\n")


async def test_a_worker_that_stops_reading_is_cut_off_without_slowing_the_primarys_streams(
        folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "MAX_BUFFERED", 64 * 1024)
    feed, fanout, server = await setup(folder)
    _, writer = await asyncio.open_unix_connection(str(frames_path(folder)))  # it never reads
    await until(lambda: server.sent == 0 and len(server._workers) == 1)
    here = fanout.join(None, None)
    feed.pad = b"x" * 20_000
    for seq in range(1, 41):
        feed.queue.put_nowait(stock(seq, seq))
        assert (await received(here)).startswith(f"id: {seq}\r\n".encode()), "the primary's stream kept up"
    await until(lambda: not server._workers)
    writer.close()
    fanout.close()
    server.close()


async def test_the_bytes_a_workers_streams_were_offered_count_in_the_primarys_byte_budget(folder: Path) -> None:
    feed, fanout, server = await setup(folder, longest=0.3, budget=100)
    worker = RelayedStreams(frames_path(folder))
    streams = [await connected(worker) for _ in range(2)]
    feed.queue.put_nowait(stock(1, 7))
    first, _ = [await received(stream) for stream in streams]
    await until(lambda: server.sent == 2 * len(first))
    feed.queue.put_nowait(stock(2, 8))
    await received(streams[0])
    worker.close()
    fanout.close()
    server.close()
    assert fanout.sent == 0, "no stream in the primary"
    assert fanout.interval == 0.3, "the worker's two streams' bytes over 100 a second: the longest interval"
