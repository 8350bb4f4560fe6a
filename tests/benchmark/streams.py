"""Open dashboard streams while the order load runs: N logged-in `GET /stream?topics=stock` clients in
one process with one asyncio loop (the machine has 2 cores: a thread or a process per stream would
measure the client, not the server), and a probe that orders one unit of a marker SKU no load client
touches every PROBE_EVERY seconds. Each probe's latency to each stream is from the moment the order's
answer came back to the moment that stream first showed the marker's available count at or below the
probe's value (rows are level-triggered: a later value also carries the earlier change).

Streams are plain asyncio protocols that search the bytes for the marker's cell, so the client costs
little CPU per byte. Each offers deflate as a browser does; a compressed stream's chunks are undone
and inflated (zlib) before the search, each distinct chunk once for all the streams that bring it
(`Segments`). A stream the server ends reconnects with its last event id, as a browser.
``python -m tests.benchmark.streams`` prints one line `connected N` once every stream is open, probes
until its stdin closes, then prints its figures as one JSON line. The bearer token and the dashboard
password travel in the environment."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import resource
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp

TOKEN_ENV = "THREADCOUNT_BENCH_TOKEN"
PASSWORD_ENV = "THREADCOUNT_BENCH_PASSWORD"
PROBE_EVERY = 0.5
GRACE = 5.0  # seconds after the load for the last probes to reach every stream
TAIL = 512
ZLIB_HEADER = b"\x78\x9c"  # deflate, 32 KB window: what the server starts a compressed body with
READ_BYTES = 256 * 1024
RECONNECT_AFTER = 0.2


@dataclass
class Figures:
    drops: int = 0
    refused: list[str] = field(default_factory=list)
    received: int = 0  # bytes read from every stream, headers and pings included
    reads: int = 0  # socket reads that brought some (about one per chunk the server sent)


class Dechunked:
    """HTTP/1.1 chunked transfer coding, undone: the whole chunks in what arrives (a chunk cut by
    a read comes out once its last byte has)."""

    def __init__(self) -> None:
        self._left = 0  # bytes of the current chunk still to come
        self._parts: list[bytes] = []  # of the current chunk, so far
        self._skip = 0  # of the CRLF after a chunk's data
        self._line = b""  # a size line cut by a read
        self._ended = False  # the last chunk (size 0) came: what follows is no data

    def feed(self, data: bytes) -> list[bytes]:
        out, i, n = [], 0, len(data)
        while i < n and not self._ended:
            if self._left:
                take = min(self._left, n - i)
                self._parts.append(data[i:i + take])
                i += take
                self._left -= take
                if not self._left:
                    out.append(self._parts[0] if len(self._parts) == 1 else b"".join(self._parts))
                    self._parts, self._skip = [], 2
            elif self._skip:
                step = min(self._skip, n - i)
                i += step
                self._skip -= step
            else:
                if self._line:  # the start of this size line came in the read before
                    data, i, self._line = self._line + data[i:], 0, b""
                    n = len(data)
                line_end = data.find(b"\r\n", i)
                if line_end < 0:
                    self._line = data[i:]
                    break
                size = int(data[i:line_end].split(b";")[0], 16)
                i = line_end + 2
                if size == 0:
                    self._ended = True
                    break
                self._left = size
        return out


class Segments:
    """What the marker's cell shows in each compressed chunk, read once however many streams bring it.

    The server deflates each flush once, as a segment that stands alone (a fresh compressor ended by
    a sync flush), and sends every stream the same bytes; a chunk is one or more whole segments and
    holds whole events. So a chunk's bytes always inflate to the same text, and the 500 streams'
    copies of one flush are inflated and searched once, not 500 times: on this machine the clients
    share the two cores with the server they measure (inflating each copy cost them about 2 s of CPU
    in an 8 s load)."""

    KEEP = 256  # distinct chunks remembered; the streams all read a flush within a second

    def __init__(self, marker: bytes):
        self._marker = marker
        self._seen: dict[bytes, tuple[list[int], bytes]] = {}
        self.inflated = 0  # chunks inflated: one per distinct chunk

    def read(self, chunk: bytes) -> tuple[list[int], bytes]:
        """The marker's values in the chunk, in order, and the chunk's last event id (b"": none)."""
        found = self._seen.get(chunk)
        if found is None:
            if len(self._seen) >= self.KEEP:
                self._seen.clear()
            text = zlib.decompressobj(-zlib.MAX_WBITS).decompress(chunk)
            self.inflated += 1
            found = self._seen[chunk] = (marker_values(text, self._marker), last_event_id(text))
        return found


def marker_values(text: bytes | bytearray, marker: bytes, start: int = 0, stop: int | None = None) -> list[int]:
    """The values of the marker's cells in text[start:stop], in order."""
    stop = len(text) if stop is None else stop
    values = []
    while (found := text.find(marker, start, stop)) >= 0:
        end = text.find(b"<", found + len(marker), stop)
        if end < 0:
            break
        values.append(int(text[found + len(marker):end]))
        start = end
    return values


def last_event_id(text: bytes | bytearray, stop: int | None = None) -> bytes:
    """The id of the last event in text[:stop] (b"": none), its line whole."""
    stop = len(text) if stop is None else stop
    at = text.rfind(b"\nid: ", 0, stop) + 1  # 0: not found, or an id line that begins the text
    if (at or text.startswith(b"id: ")) and (line_end := text.find(b"\n", at + 4, stop)) >= 0:
        return bytes(text[at + 4:line_end]).strip()
    return b""


class Stream(asyncio.BufferedProtocol):
    """One dashboard: the marker's available count as seen, with the time each new value arrived.

    Every stream reads into one buffer the process shares (each read is handled before the next
    begins), behind the last TAIL bytes of its own previous read: no new bytes object per read, which
    at 100 MB/s cost the client more in page faults than the search."""

    shared = bytearray(TAIL + READ_BYTES)

    def __init__(self, request: bytes, marker: bytes, figures: Figures, segments: Segments):
        self._request, self._marker, self._figures = request, marker, figures
        self.sightings: list[tuple[int, float]] = []
        self.last_id = b""
        self.opened = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self._tail = b""
        self._body = Dechunked()  # the body's chunks, read once the server compresses the stream
        self._segments: Segments | None = None  # the chunks' text, when it does
        self._all_segments = segments
        self._header = ZLIB_HEADER  # of the zlib stream, before its first segment

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        extra = b"Last-Event-ID: " + self.last_id + b"\r\n" if self.last_id else b""
        transport.write(self._request.replace(b"\r\n\r\n", b"\r\n" + extra + b"\r\n", 1))

    def get_buffer(self, sizehint: int) -> memoryview:
        self.shared[:len(self._tail)] = self._tail
        return memoryview(self.shared)[len(self._tail):]

    def buffer_updated(self, nbytes: int) -> None:
        now = time.monotonic()
        self._figures.received += nbytes
        self._figures.reads += 1
        buf, begin = self.shared, len(self._tail)
        stop = begin + nbytes
        if not self.opened.done():
            head_end = buf.find(b"\r\n\r\n", begin, stop)
            head = bytes(buf[begin:head_end if head_end >= 0 else stop])
            if b" 200 " not in head.split(b"\r\n", 1)[0]:
                self._figures.refused.append(head.split(b"\r\n", 1)[0].decode(errors="replace")[:200])
            if head_end >= 0 and b"\r\ncontent-encoding: deflate" in head.lower():
                self._segments = self._all_segments
                begin = head_end + 4
            self.opened.set_result(None)
        if self._segments is not None:  # as a browser: the chunks' bytes, inflated, then searched
            for chunk in self._body.feed(bytes(buf[begin:stop])):
                if self._header:  # the zlib stream's header, at the start of its first chunk
                    chunk, self._header = chunk[len(self._header):], self._header[len(chunk):]
                values, last_id = self._segments.read(chunk)
                self._saw(values, now)
                self.last_id = last_id or self.last_id
            return
        self._saw(marker_values(buf, self._marker, 0, stop), now)
        self.last_id = last_event_id(buf, stop) or self.last_id
        self._tail = bytes(buf[max(0, stop - TAIL):stop])

    def _saw(self, values: list[int], now: float) -> None:
        for value in values:
            if not self.sightings or value < self.sightings[-1][0]:
                self.sightings.append((value, now))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)

    def seen_at(self, value: int) -> float | None:
        for seen, at in self.sightings:
            if seen <= value:
                return at
        return None


async def log_in(base: str, password: str) -> str:
    """The session cookie (name=value) of the dashboard's admin."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=base, cookie_jar=jar) as session:
        async with session.get("/login") as page:
            found = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
        if found is None:
            raise RuntimeError("no csrf_token on /login")
        form = {"username": "admin", "password": password, "csrf_token": found.group(1)}
        async with session.post("/login", data=form, allow_redirects=False) as answer:
            if answer.status != 303:
                raise RuntimeError(f"POST /login answered {answer.status}")
        cookies = jar.filter_cookies(aiohttp.client.URL(base))
    return "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())


async def keep_open(stream_of: Any, stop: asyncio.Event, figures: Figures) -> None:
    """Reconnect a stream the server ended, with its last event id, until told to stop."""
    stream: Stream = await stream_of(None)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            await asyncio.wait([stream.closed, stopped], return_when=asyncio.FIRST_COMPLETED)
            if stop.is_set():
                return
            figures.drops += 1
            await asyncio.sleep(RECONNECT_AFTER)
            stream = await stream_of(stream)
    finally:
        stopped.cancel()


@dataclass
class Probes:
    answered: list[tuple[int, float]] = field(default_factory=list)  # (available after it, answer time)
    errors: list[str] = field(default_factory=list)


async def probe(base: str, token: str, sku: str, start: int, stop: asyncio.Event, probes: Probes) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    expected, n = start, 0
    async with aiohttp.ClientSession(base_url=base, headers=headers) as session:
        while not stop.is_set():
            n += 1
            body = {"channel": "direct", "external_id": f"stream-probe-{os.getpid()}-{n}",
                    "lines": [{"sku": sku, "quantity": 1}]}
            async with session.post("/api/v1/orders", json=body) as answer:
                await answer.read()
                if 200 <= answer.status < 300:
                    expected -= 1
                    probes.answered.append((expected, time.monotonic()))
                else:
                    probes.errors.append(f"HTTP {answer.status}")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), PROBE_EVERY)


def _pct(ordered: list[float], pct: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1] * 1000, 1)


def summarize(streams: list[Stream], probes: Probes, figures: Figures, seconds: float) -> dict[str, Any]:
    """`seconds`: from every stream open to the end of the load, over which bytes and reads are counted."""
    latencies: list[float] = []
    missed = 0
    for value, answered in probes.answered:
        for stream in streams:
            seen = stream.seen_at(value)
            if seen is None:
                missed += 1
            else:
                latencies.append(max(0.0, seen - answered))
    latencies.sort()
    return {"streams": len(streams), "probes": len(probes.answered), "probe_errors": probes.errors[:5],
            "samples": len(latencies), "missed": missed, "p50_ms": _pct(latencies, 50),
            "p99_ms": _pct(latencies, 99), "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
            "drops": figures.drops, "refused": figures.refused[:5], "client_cpu_s": _cpu_seconds(),
            "bytes_per_s": round(figures.received / seconds) if seconds > 0 else None,
            "reads_per_s": round(figures.reads / seconds) if seconds > 0 else None}


def _cpu_seconds() -> float:
    """What this client process took of the shared machine (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 2)


def _stdin_closed(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    sys.stdin.read()
    loop.call_soon_threadsafe(stop.set)


async def run(base: str, count: int, marker_sku: str, start: int, token: str, password: str,
              plain: bool = False) -> dict[str, Any]:
    """`plain`: the streams do not offer deflate (the server sends the bytes uncompressed)."""
    url = urlsplit(base)
    cookie = await log_in(base, password)
    # Connection: close: a stream the server ends (its last chunk sent) is then also a closed
    # connection, which is what a Stream reconnects on, as a browser reconnects when the response ends
    request = (f"GET /stream?topics=stock HTTP/1.1\r\nHost: {url.netloc}\r\nAccept: text/event-stream\r\n"
               "Connection: close\r\n"
               + ("" if plain else "Accept-Encoding: gzip, deflate, br\r\n")  # as a browser
               + f"Cookie: {cookie}\r\n\r\n").encode()
    marker = f'data-sku="{marker_sku}" data-location="all">'.encode()
    figures = Figures()
    segments = Segments(marker)
    streams: list[Stream | None] = [None] * count
    loop = asyncio.get_running_loop()

    def opener(index: int) -> Any:
        async def open_stream(previous: Stream | None) -> Stream:
            _, stream = await loop.create_connection(lambda: Stream(request, marker, figures, segments),
                                                     url.hostname or "127.0.0.1", url.port or 80)
            if previous is not None:  # keep what it saw; resume from its last id
                stream.sightings, stream.last_id = previous.sightings, previous.last_id
            streams[index] = stream
            await stream.opened
            return stream
        return open_stream

    stop = asyncio.Event()
    keepers = [asyncio.ensure_future(keep_open(opener(i), stop, figures)) for i in range(count)]
    while any(s is None or not s.opened.done() for s in streams):
        await asyncio.sleep(0.05)
    print(f"connected {count}", flush=True)
    threading.Thread(target=_stdin_closed, args=(loop, stop), daemon=True).start()
    probes = Probes()
    figures.received = figures.reads = 0
    began = time.monotonic()
    await probe(base, token, marker_sku, start, stop, probes)
    seconds = time.monotonic() - began
    received, reads = figures.received, figures.reads
    await asyncio.sleep(GRACE)
    for keeper in keepers:
        keeper.cancel()
    figures.received, figures.reads = received, reads
    return summarize([s for s in streams if isinstance(s, Stream)], probes, figures, seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmark.streams", description=__doc__)
    parser.add_argument("--base", required=True)
    parser.add_argument("--streams", type=int, required=True)
    parser.add_argument("--marker", required=True, help="the SKU the probe orders (no load client does)")
    parser.add_argument("--available", type=int, required=True, help="the marker's available count now")
    parser.add_argument("--plain", action="store_true", help="do not offer deflate")
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.base, args.streams, args.marker, args.available,
                              os.environ[TOKEN_ENV], os.environ[PASSWORD_ENV], args.plain))
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
