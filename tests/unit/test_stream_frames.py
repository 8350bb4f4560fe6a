"""The dashboard's frames from the primary to its web workers (web/dashboard/frames.py), over a real
Unix socket: each event is rendered once, by the primary, for the streams of every process; a
worker's reconnecting stream resumes from the primary's replay, and one that joins before the
worker has it waits for it, not ended; a reset or a lost primary ends the worker's streams; a
worker that stops reading is cut off without slowing the primary's streams; and the workers' bytes
count in the flushes' byte budget. A fake feed stands in for the event hub."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from service.events import Dropped, LiveEvent
from tests.unit.test_stream_fanout import FakeFeed, received, stock
from web.dashboard import fanout as fanouts
from web.dashboard import frames
from web.dashboard.fanout import Fanout, Subscriber
from web.dashboard.frames import FrameServer, RelayedStreams, frames_path, serve_frames


@pytest.fixture
def folder() -> Iterator[Path]:
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
    """A worker stream, once the worker has the primary's replay (a worker's first stream starts the
    connection and waits for the replay)."""
    subscriber = streams.join(topics, last_id)
    await until(lambda: streams.live)
    return subscriber


class Primary:
    """The primary's fan-out on a fake feed, its frames server, and the workers' streams made here:
    all closed at the test's end."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.feed = Feed()
        self.fanout = Fanout(self.feed.subscribe, self.feed.encode, every=0.0)
        self.server: FrameServer | None = None
        self.workers: list[RelayedStreams] = []

    async def serve(self) -> FrameServer:
        self.server = await serve_frames(frames_path(self.folder), lambda: self.fanout)
        return self.server

    def worker(self) -> RelayedStreams:
        self.workers.append(RelayedStreams(frames_path(self.folder)))
        return self.workers[-1]

    def close(self) -> None:
        for worker in self.workers:
            worker.close()
        self.fanout.close()
        if self.server is not None:
            self.server.close()


@pytest.fixture
async def primary(folder: Path) -> AsyncIterator[Primary]:
    made = Primary(folder)
    await made.serve()
    yield made
    made.close()


async def test_an_event_is_rendered_once_for_the_streams_of_the_primary_and_of_every_worker(primary: Primary) -> None:
    streams = [await connected(primary.worker(), frozenset({"stock"})) for _ in range(2)]
    here = primary.fanout.join(frozenset({"stock"}), None)
    primary.feed.queue.put_nowait(stock(1, 7))
    chunks = [await received(stream) for stream in [here, *streams]]
    assert set(chunks) == {b"id: 1\r\nevent: stock-7\r\ndata: row\r\n\r\n"}
    assert primary.feed.rendered == [1] and primary.fanout.renders == 1


async def test_a_reconnecting_worker_stream_resumes_from_the_primarys_replay(primary: Primary) -> None:
    """Whether it joined the worker before the replay came (the worker's first stream) or after."""
    here = primary.fanout.join(None, None)
    for live in (stock(1, 7), stock(2, 8), stock(3, 7)):
        primary.feed.queue.put_nowait(live)
        await received(here)
    worker = primary.worker()
    resumed = worker.join(None, last_id=1)
    assert not worker.live, "joined before the replay came"
    replayed = await received(resumed)
    later = worker.join(None, last_id=2)  # after it
    assert await received(later) == b"id: 3\r\nevent: stock-7\r\ndata: row\r\n\r\n"
    primary.feed.queue.put_nowait(stock(4, 9))
    live_after = await received(resumed)
    assert replayed == b"id: 2\r\nevent: stock-8\r\ndata: row\r\n\r\nid: 3\r\nevent: stock-7\r\ndata: row\r\n\r\n"
    assert live_after.startswith(b"id: 4\r\n")
    assert (await received(later)).startswith(b"id: 4\r\n")
    assert primary.feed.rendered == [1, 2, 3, 4]


async def test_streams_that_join_a_worker_before_its_replay_came_are_kept_and_take_only_what_comes_after(
        primary: Primary) -> None:
    """A new stream (no Last-Event-ID) takes nothing of the replay, as on the primary; none is ended."""
    here = primary.fanout.join(None, None)
    for live in (stock(1, 7), stock(2, 8)):
        primary.feed.queue.put_nowait(live)
        await received(here)
    worker = primary.worker()
    early = [worker.join(None, None), worker.join(frozenset({"stock"}), None)]
    await until(lambda: worker.live)
    assert worker.streams() == 2 and not any(stream.ended for stream in early)
    primary.feed.queue.put_nowait(stock(3, 9))
    assert [await data(stream) for stream in early] == [b"id: 3\r\nevent: stock-9\r\ndata: row\r\n\r\n"] * 2
    worker.leave(early[0])
    assert worker.streams() == 1


async def test_a_reset_at_the_primary_ends_the_workers_streams_and_they_take_frames_again(primary: Primary) -> None:
    worker = primary.worker()
    stream = await connected(worker)
    primary.feed.queue.put_nowait(stock(1, 7))
    await received(stream)
    primary.feed.queue.put_nowait(None)  # type: ignore[arg-type]
    assert await asyncio.wait_for(stream.next(), 2) is None, "the worker's stream ended on the reset"
    again = worker.join(None, last_id=1)
    primary.feed.queue.put_nowait(stock(2, 8))
    chunk = await data(again)
    assert chunk.startswith(b"id: 2\r\n")


async def test_a_worker_that_loses_the_primary_ends_its_streams_and_connects_again(
        primary: Primary, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "RECONNECT_AFTER", 0.05)
    worker = primary.worker()
    stream = await connected(worker)
    assert primary.server is not None
    primary.server.close()  # the primary's end of every worker's connection
    assert await asyncio.wait_for(stream.next(), 2) is None
    await primary.serve()
    await until(lambda: worker.replays == 2)
    back = await connected(worker)
    primary.feed.queue.put_nowait(stock(1, 7))
    chunk = await received(back)
    assert chunk.startswith(b"id: 1\r\n")


async def test_a_worker_that_stops_reading_is_cut_off_without_slowing_the_primarys_streams(
        primary: Primary, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames, "MAX_BUFFERED", 64 * 1024)
    server = primary.server
    assert server is not None
    _, writer = await asyncio.open_unix_connection(str(frames_path(primary.folder)))  # it never reads
    await until(lambda: server.workers == 1)
    here = primary.fanout.join(None, None)
    primary.feed.pad = b"x" * 20_000
    for seq in range(1, 41):
        primary.feed.queue.put_nowait(stock(seq, seq))
        assert (await received(here)).startswith(f"id: {seq}\r\n".encode()), "the primary's stream kept up"
    await until(lambda: server.workers == 0)
    writer.close()


async def test_the_bytes_a_workers_streams_were_offered_count_in_the_primarys_byte_budget(folder: Path) -> None:
    primary = Primary(folder)
    primary.fanout = Fanout(primary.feed.subscribe, primary.feed.encode, every=0, longest=0.3, budget=100)
    server = await primary.serve()
    worker = primary.worker()
    streams = [await connected(worker) for _ in range(2)]
    primary.feed.queue.put_nowait(stock(1, 7))
    first, _ = [await received(stream) for stream in streams]
    await until(lambda: server.sent == 2 * len(first))
    primary.feed.queue.put_nowait(stock(2, 8))
    await received(streams[0])
    primary.close()
    assert primary.fanout.sent == 0, "no stream in the primary"
    assert primary.fanout.interval == 0.3, "the worker's two streams' bytes over 100 a second: the longest interval"


async def test_a_worker_whose_last_stream_left_a_while_ago_lets_the_primary_stop_rendering(
        primary: Primary, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fanouts, "IDLE_STOP", 0.2)
    worker = primary.worker()
    stream = await connected(worker)
    assert primary.server is not None and primary.server.workers == 1
    worker.leave(stream)
    await until(lambda: primary.server is not None and primary.server.workers == 0)
    await until(lambda: primary.feed.followers == 0)
    back = await connected(worker)  # the next stream connects again
    primary.feed.queue.put_nowait(stock(1, 7))
    assert (await received(back)).startswith(b"id: 1\r\n")
