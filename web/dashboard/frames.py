"""With web workers, the dashboard's live events are rendered once for every process: the primary's
fan-out (web/dashboard/fanout.py) renders each flush, and every worker's streams get the same frames
over a Unix socket in the primary's private folder (`frames.sock`, beside the shard relay's). A
worker follows no event hub for its streams and renders nothing.

The primary serves (`FrameServer`, one watcher of its fan-out for every worker). A worker connects
at its first stream (`RelayedStreams`), and lets the connection go IDLE_STOP seconds after its last
stream left (web/dashboard/fanout.py), so the primary stops rendering once no process has a stream.
Messages are framed as the shard relay's (a 4-byte length, then a pickle), between this user's own
processes only:
- to the worker: `("replay", frames)` first (the primary's replay, so a worker's reconnecting
  stream resumes from its Last-Event-ID), then `("flush", frames)` for each flush, or `("reset",)`
  when the primary's feed missed events (every stream ends, each page re-reads);
- to the primary: `("sent", bytes)` after each flush, what the worker's streams were offered, so the
  flushes spread out as the streams of every process together grow (the byte budget is the machine's).

Slow never spreads: a worker whose socket holds more than MAX_BUFFERED unsent bytes is cut off
without slowing the primary's streams or the other workers. A worker that loses the connection (cut
off, or the primary's end went) ends its streams and connects again after RECONNECT_AFTER seconds.
A stream that joins a worker before its connection's replay has come waits for it, then takes what
the replay holds after its Last-Event-ID (none of it without one, as on the primary) and the
flushes after it: no frame comes to a worker before its connection's replay, so it misses nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from service.shard_relay import WorkersServer, frame, read_frame
from web.dashboard.fanout import Fanout, Frame, Streams, Subscriber, Topics

log = logging.getLogger(__name__)
MAX_BUFFERED = 16 * 1024 * 1024  # bytes waiting for a worker before it is cut off (flushes of ~200 KB)
RECONNECT_AFTER = 1.0


def frames_path(folder: Path) -> Path:
    """The primary's frames socket, in the folder of its other worker sockets."""
    return folder / "frames.sock"


class FrameServer(WorkersServer):
    """The primary's side: one watcher of its fan-out for every worker connected (each flush pickled
    once for all of them)."""

    def __init__(self, fanout: Callable[[], Fanout]):
        """`fanout`: the primary's, made at first use (a worker's first stream may come first)."""
        super().__init__()
        self._fanout = fanout
        self._sent: dict[asyncio.StreamWriter, int] = {}  # bytes each worker's streams were last offered

    @property
    def sent(self) -> int:
        return sum(self._sent.values())

    @property
    def workers(self) -> int:
        """Workers connected."""
        return len(self._writers)

    def flushed(self, frames: list[Frame]) -> None:
        self._send(frame(("flush", frames)))

    def reset(self) -> None:
        self._send(frame(("reset",)))

    def _send(self, message: bytes) -> None:
        for writer in list(self._writers):
            if writer.is_closing():
                continue
            if writer.transport.get_write_buffer_size() > MAX_BUFFERED:
                log.warning("dashboard frames: a web worker fell %d bytes behind; cut off, it reconnects",
                            writer.transport.get_write_buffer_size())
                writer.transport.abort()  # not close(): that would wait for the unsent bytes to go
                continue
            writer.write(message)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fanout = self._fanout()
        self._writers.add(writer)
        writer.write(frame(("replay", fanout.watch(self))))
        try:
            while True:
                kind, sent = await read_frame(reader)
                if kind == "sent" and isinstance(sent, int):
                    self._sent[writer] = sent
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker went, or was cut off
        except Exception as exc:
            log.warning("dashboard frames: a web worker's connection failed: %s", exc)
        finally:
            self._writers.discard(writer)
            self._sent.pop(writer, None)
            if not self._writers:
                fanout.unwatch(self)
            writer.close()


async def serve_frames(path: Path, fanout: Callable[[], Fanout]) -> FrameServer:
    server = FrameServer(fanout)
    await server.start(path)
    return server


class RelayedStreams(Streams):
    """A web worker's streams: the frames the primary's fan-out rendered, from the first stream on."""

    def __init__(self, path: Path):
        super().__init__()
        self._path = path
        self.replays = 0  # the primary's replays taken: one at each connection
        self.live = False  # connected, and this connection's replay taken
        # the streams that joined before it, each with its Last-Event-ID: caught up when it comes
        self._waiting: dict[Subscriber, int | None] = {}

    def join(self, topics: Topics, last_id: int | None, deflate: bool = False) -> Subscriber:
        subscriber = super().join(topics, last_id, deflate)  # not live: the replay is empty
        if not self.live and not subscriber.ended:
            self._waiting[subscriber] = last_id
        return subscriber

    def leave(self, subscriber: Subscriber) -> None:
        self._waiting.pop(subscriber, None)
        super().leave(subscriber)

    def _end_all(self) -> None:
        self._waiting.clear()
        super()._end_all()

    def _jobs(self) -> list[Callable[[], Awaitable[None]]]:
        return [self._follow, *super()._jobs()]

    async def _follow(self) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_unix_connection(str(self._path))
            except OSError as exc:
                log.warning("dashboard frames: the primary web process does not answer (%s)", exc)
                await asyncio.sleep(RECONNECT_AFTER)
                continue
            try:
                await self._take(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                log.warning("dashboard frames: the primary's connection ended; the streams here reconnect")
            except Exception as exc:
                log.warning("dashboard frames: reading the primary's frames failed: %s", exc)
            finally:
                self.live = False
                writer.close()
            self._forget()
            await asyncio.sleep(RECONNECT_AFTER)

    async def _take(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            message = await read_frame(reader)
            kind = message[0]
            if kind == "flush":
                writer.write(frame(("sent", self._publish(message[1]))))
            elif kind == "replay":
                self._replay_came(message[1])
            elif kind == "reset":
                self._forget()
            else:
                raise ValueError(f"a frames message of kind {kind!r}")

    def _replay_came(self, frames: list[Frame]) -> None:
        """This connection's first message: the primary's replay. Nothing came before it on this
        connection, so the streams waiting for it missed nothing it does not hold: each takes what it
        holds after its Last-Event-ID, then the flushes."""
        waiting, self._waiting = self._waiting, {}
        self._replay.clear()
        self._remember(frames)
        self.replays += 1
        self.live = True
        for subscriber, last_id in waiting.items():
            if last_id is not None and not subscriber.ended:
                self._catch_up(subscriber, last_id)
