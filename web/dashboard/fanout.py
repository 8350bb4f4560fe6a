"""The dashboard streams' fan-out: each live event is rendered ONCE, whatever the number of open
streams, and its encoded SSE bytes are handed to every stream whose topics want it.

One follower reads the process's EventFeed; a flusher renders what arrived (the first event after a
quiet spell at once) and offers one chunk of bytes per topic filter to each subscriber's bounded
backlog. Events for one variant that arrive within a flush are coalesced: only the newest row is sent
(rows are level-triggered), under its own event id.

Flushes are FLUSH_EVERY apart, or longer when the last one was big: its bytes (summed over every
stream it went to) divided by STREAM_BYTES_PER_S, up to FLUSH_AT_MOST. So the bytes sent to streams
stay under that budget, whatever the order rate, until the longest interval; past it rows change
more often than they are sent, so the bytes are at most every variant's row once per FLUSH_AT_MOST
per stream. A longer interval also coalesces more changes into one row.

A stream whose browser offers deflate gets each chunk compressed, once for every stream that takes
it (web/dashboard/deflate.py).

Nothing is followed or rendered while no stream is open: IDLE_STOP seconds after the last one left,
the fan-out stops (and forgets its replay, since what comes meanwhile is not followed); the next
stream starts it again.

Guarantees: the order path never waits on a stream (the feed drops its own slow subscribers, and this
one only appends to in-memory backlogs); a subscriber more than SUBSCRIBER_CHUNKS flushes behind is
dropped (its stream ends, the browser reconnects with its Last-Event-ID) and never slows the others.
A reconnect with a last id gets the newest frame of every row changed since (the replay holds
REPLAY_FRAMES rendered frames, newest per variant); the stock page also re-reads its grid whenever its
stream (re)opens, which is the resync when the replay no longer reaches back that far or the feed
missed events (then every stream is ended).

With web workers the primary's fan-out is the only one that renders: each flush's frames also go to
its `watchers` (web/dashboard/frames.py ships them to every worker, whose `Streams` hand them to
their own streams), and the flush interval counts the bytes the workers' streams were offered too."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from typing import NamedTuple, Protocol

from service.events import Dropped, LiveEvent
from service.metrics import STREAM_RENDERS
from web.dashboard.deflate import PING, PING_SEGMENT, Chunk, DeflateStream

log = logging.getLogger(__name__)
FLUSH_EVERY = 0.25  # seconds between flushes, the shortest
# The longest: a change waits at most this long for its flush, and still reaches a stream within a second
FLUSH_AT_MOST = 0.5
# Bytes a second to all streams together before flushes grow further apart. On 2 cores with 64 order
# clients, 500 streams at 0.25 s flushes received 213-239 MB/s, and orders/s fell to 64-81%
STREAM_BYTES_PER_S = 20_000_000
SUBSCRIBER_CHUNKS = 20  # flushes a stream may fall behind (5 to 12 s) before it is dropped
REPLAY_FRAMES = 5_000
# a stream that took no chunk since the last nudge is woken this often, to re-check its session (one
# that took a chunk was woken by it): every stream wakes at least every 2 x NUDGE_SECONDS
NUDGE_SECONDS = 1.0
RESUBSCRIBE_AFTER = 1.0
IDLE_STOP = 10.0  # seconds without a stream (or a web worker taking frames) before following stops
COALESCED = ("stock", "variant")  # topics whose events are a variant's whole row: the newest suffices
Encode = Callable[[LiveEvent], Awaitable[bytes]]
Subscribe = Callable[[], AsyncIterator[LiveEvent]]
Prepare = Callable[[list[LiveEvent]], Awaitable[None]]
Topics = frozenset[str] | None


class Frame(NamedTuple):
    seq: int
    topic: str
    key: Hashable  # a newer frame with the same key replaces this one in the replay
    data: bytes


class Subscriber:
    """One stream's backlog of chunks; `next` hands them over joined, b"" on a nudge, None at the end.
    With `deflate`, what `next` hands over is that stream's zlib stream (web/dashboard/deflate.py):
    the chunks' shared segments, and `finish` gives its last bytes."""

    def __init__(self, topics: Topics, limit: int = SUBSCRIBER_CHUNKS, deflate: bool = False):
        self.topics = topics
        self.ended = False
        self.deflate = DeflateStream() if deflate else None
        self._chunks: deque[Chunk] = deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self._fed = False  # a chunk came since the last nudge

    def wants(self, topic: str) -> bool:
        return self.topics is None or topic in self.topics

    def offer(self, chunk: Chunk) -> bool:
        """False when the backlog is full: the caller drops this subscriber."""
        if len(self._chunks) >= self._limit:
            return False
        self._chunks.append(chunk)
        self._fed = True
        self._ready.set()
        return True

    def nudge(self) -> None:
        """Wakes the stream unless a chunk did since the last nudge (under load, 500 streams woken
        each second for nothing)."""
        if self._fed:
            self._fed = False
        else:
            self._ready.set()

    def end(self) -> None:
        self.ended = True
        self._chunks.clear()
        self._ready.set()

    async def next(self) -> bytes | None:
        await self._ready.wait()
        self._ready.clear()
        if self.ended:
            return None
        chunks = list(self._chunks)
        self._chunks.clear()
        if self.deflate is not None:
            return self.deflate.write(chunk.segment() for chunk in chunks) if chunks else b""
        return chunks[0].plain if len(chunks) == 1 else b"".join(chunk.plain for chunk in chunks)

    def ping(self) -> bytes:
        return self.deflate.write((PING_SEGMENT,)) if self.deflate is not None else PING

    def finish(self) -> bytes:
        """The stream's last bytes (the end of its zlib stream; nothing when plain)."""
        return self.deflate.end() if self.deflate is not None else b""


def flush_interval(sent: int, budget: float = STREAM_BYTES_PER_S, shortest: float = FLUSH_EVERY,
                   longest: float = FLUSH_AT_MOST) -> float:
    """Seconds from a flush that sent `sent` bytes (over every stream) to the next one: long enough to
    keep to `budget` bytes a second, within [shortest, longest]."""
    return min(max(longest, shortest), max(shortest, sent / budget))


def coalescing_key(live: LiveEvent) -> Hashable:
    if live.topic in COALESCED:
        return ("row", live.data.get("variant_id"))
    return ("event", live.seq)


class Watcher(Protocol):
    """What takes every flush's frames besides this process's streams (a worker's, through
    web/dashboard/frames.py)."""

    @property
    def sent(self) -> int:
        """The bytes its streams were last offered in a flush (for the byte budget)."""

    def flushed(self, frames: list[Frame]) -> None:
        """A flush's frames, in the order they were rendered; it must not wait."""

    def reset(self) -> None:
        """Events were missed: every stream ends and its page re-reads."""


class Streams:
    """A process's open streams and its replay: what a flush's frames become for each of them. The
    frames come from a `Fanout` in this process, or from the primary's (web/dashboard/frames.py)."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._replay: OrderedDict[Hashable, Frame] = OrderedDict()
        self._tasks: list[asyncio.Task[None]] = []
        self._idle: asyncio.TimerHandle | None = None  # the stop IDLE_STOP after the last stream left
        self._closed = False
        self.sent = 0  # bytes offered to streams, each stream's counted

    def join(self, topics: Topics, last_id: int | None, deflate: bool = False) -> Subscriber:
        """A new stream: what it missed after `last_id` (as replayed frames), then live chunks
        (`deflate`: compressed, web/dashboard/deflate.py)."""
        subscriber = Subscriber(topics, deflate=deflate)
        if self._closed:
            subscriber.end()
            return subscriber
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self._start()
        if last_id is not None:
            self._catch_up(subscriber, last_id)
        self._subscribers.add(subscriber)
        return subscriber

    def _catch_up(self, subscriber: Subscriber, last_id: int) -> None:
        """Offers `subscriber` what the replay holds after `last_id`."""
        missed = b"".join(frame.data for frame in self._replay.values()
                          if frame.seq > last_id and subscriber.wants(frame.topic))
        if missed:
            subscriber.offer(Chunk(missed))

    def leave(self, subscriber: Subscriber) -> None:
        """A stream ended (every stream's last call, whatever ended it)."""
        self._subscribers.discard(subscriber)
        self._stop_when_idle()

    def _in_use(self) -> bool:
        return bool(self._subscribers)

    def _stop_when_idle(self) -> None:
        """With nothing left to take the frames, stop following and rendering IDLE_STOP seconds on (a
        page reloading or reconnecting within that keeps it going)."""
        if self._tasks and self._idle is None and not self._in_use():
            self._idle = asyncio.get_running_loop().call_later(IDLE_STOP, self._stop_if_idle)

    def _stop_if_idle(self) -> None:
        self._idle = None
        if self._in_use() or self._closed:
            return
        for task in self._tasks:
            task.cancel()
        self._tasks = []  # the next stream starts them again
        self._forget()  # what comes meanwhile is not followed: the replay would have a gap

    def streams(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        """Every stream ends now and no new one starts (at shutdown)."""
        self._closed = True
        self._end_all()
        if self._idle is not None:
            self._idle.cancel()
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    def _jobs(self) -> list[Callable[[], Awaitable[None]]]:
        """What runs from the first stream on, until `close`."""
        return [self._nudge]

    def _start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.ensure_future(job()) for job in self._jobs()]

    def _end_all(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber.end()
        self._subscribers.clear()

    def _forget(self) -> None:
        """Events were missed: the replay can no longer be trusted, and every stream ends (each page
        reconnects and re-reads what it shows)."""
        self._replay.clear()
        self._end_all()

    def _publish(self, frames: list[Frame]) -> int:
        """The bytes offered, summed over the subscribers (before compression: the budget bounds the
        rendering and the sends as well as the bytes)."""
        self._remember(frames)
        chunks: dict[Topics, Chunk] = {}
        sent = 0
        for subscriber in list(self._subscribers):
            chunk = chunks.get(subscriber.topics)
            if chunk is None:
                chunk = chunks[subscriber.topics] = Chunk(b"".join(
                    frame.data for frame in frames if subscriber.wants(frame.topic)))
            if not chunk.plain:
                continue
            if subscriber.offer(chunk):
                sent += len(chunk.plain)
            else:
                self._subscribers.discard(subscriber)  # too far behind: it reconnects and resumes
                subscriber.end()
        self.sent += sent
        return sent

    def _remember(self, frames: list[Frame]) -> None:
        """`frames` in the replay, each replacing the older frame of its key; the oldest go past
        REPLAY_FRAMES."""
        for frame in frames:
            self._replay.pop(frame.key, None)
            self._replay[frame.key] = frame
        while len(self._replay) > REPLAY_FRAMES:
            self._replay.popitem(last=False)

    async def _nudge(self) -> None:
        while True:
            await asyncio.sleep(NUDGE_SECONDS)
            for subscriber in list(self._subscribers):
                subscriber.nudge()


class Fanout(Streams):
    """The fan-out that renders: it follows this process's EventFeed."""

    def __init__(self, subscribe: Subscribe, encode: Encode, every: float = FLUSH_EVERY,
                 prepare: Prepare | None = None, longest: float = FLUSH_AT_MOST,
                 budget: float = STREAM_BYTES_PER_S):
        """`prepare` sees each flush's events before they are encoded (to read what they need at once);
        flushes are `every` to `longest` seconds apart, as `budget` bytes a second allows (flush_interval)."""
        super().__init__()
        self._subscribe, self._encode, self._every, self._prepare = subscribe, encode, every, prepare
        self._longest, self._budget = longest, budget
        self._pending: OrderedDict[Hashable, LiveEvent] = OrderedDict()
        self._arrived = asyncio.Event()
        self._watchers: set[Watcher] = set()
        self.renders = 0  # events rendered: one per event, not per stream
        self.interval = every  # seconds from the last flush to the next

    def watch(self, watcher: Watcher) -> list[Frame]:
        """`watcher` gets every flush's frames from now on (this fan-out runs from now, streams here or
        not); returned: the replay so far, oldest first."""
        self._start()
        self._watchers.add(watcher)
        return list(self._replay.values())

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)
        self._stop_when_idle()

    def _in_use(self) -> bool:
        return super()._in_use() or bool(self._watchers)

    def _forget(self) -> None:
        self._pending.clear()
        super()._forget()

    def _jobs(self) -> list[Callable[[], Awaitable[None]]]:
        return [self._follow, self._flush, *super()._jobs()]

    async def _follow(self) -> None:
        while True:
            try:
                async for live in self._subscribe():
                    key = coalescing_key(live)
                    replaced = self._pending.pop(key, None)
                    if replaced is not None and replaced.topic == "variant":
                        live = live._replace(topic="variant")  # keep the re-read of its details
                    self._pending[key] = live
                    self._arrived.set()
            except Dropped:
                pass
            # the feed missed events or stopped: every stream ends, each page reconnects and re-reads
            self._forget()
            for watcher in list(self._watchers):
                watcher.reset()
            await asyncio.sleep(RESUBSCRIBE_AFTER)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._arrived.wait()
            self._arrived.clear()
            started = loop.time()
            batch, self._pending = self._pending, OrderedDict()
            if self._prepare is not None:
                try:
                    await self._prepare(list(batch.values()))
                except Exception:
                    log.exception("preparing %d live events failed; each is rendered alone", len(batch))
            frames = [frame for live in batch.values() if (frame := await self._render(live)).data]
            sent = self._publish(frames)
            for watcher in list(self._watchers):
                if frames:
                    watcher.flushed(frames)
                sent += watcher.sent
            self.interval = flush_interval(sent, self._budget, self._every, self._longest)
            # events arriving meanwhile coalesce into the next flush
            await asyncio.sleep(max(0.0, started + self.interval - loop.time()))

    async def _render(self, live: LiveEvent) -> Frame:
        self.renders += 1
        STREAM_RENDERS.inc()
        try:
            data = await self._encode(live)
        except Exception:
            log.exception("rendering live event %s (%s) failed; the streams go without it",
                          live.seq, live.topic)
            data = b""
        return Frame(live.seq, live.topic, coalescing_key(live), data)
