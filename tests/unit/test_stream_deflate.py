"""Compressed dashboard streams (web/dashboard/deflate.py): each flush is deflated once for every
stream, and each stream's body is still a whole, checked zlib stream of exactly what a plain stream
carried."""

from __future__ import annotations

import asyncio
import os
import random
import zlib

import pytest

from tests.unit.test_stream_fanout import FakeFeed, received, stock
from web.dashboard import deflate as deflate_module
from web.dashboard.deflate import DeflateStream, accepts_deflate, adler32_combine, deflated
from web.dashboard.fanout import Fanout

pytestmark = pytest.mark.unit
STOCK = frozenset({"stock", "variant"})


NOISE = random.Random(7)  # bytes that do not compress, the same in every collection (xdist's workers compare)


@pytest.mark.parametrize("first, second", [(b"", b""), (b"a", b""), (b"", b"row"), (b"row" * 9, b"\xff" * 70_000),
                                           (NOISE.randbytes(100_000), NOISE.randbytes(200_003))],
                         ids=["empty", "empty-second", "empty-first", "rows-then-70k-ff", "random-100k-200k"])
def test_two_checksums_combine_into_the_checksum_of_both_strings(first: bytes, second: bytes) -> None:
    assert adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second)) == zlib.adler32(first + second)


def test_a_stream_of_shared_segments_is_one_checked_zlib_stream_of_what_it_carried() -> None:
    parts = [b"<tr>row</tr>" * 500, os.urandom(3_000), b"", b"event: stock-1\r\ndata: x\r\n\r\n"]
    stream = DeflateStream()
    body = b"".join(stream.write([deflated(part)]) for part in parts) + stream.end()
    inflater = zlib.decompressobj()
    assert inflater.decompress(body) == b"".join(parts)
    assert inflater.eof and not inflater.unused_data, "the stream ends with its last block and checksum"


def test_rows_alike_are_sent_many_times_smaller() -> None:
    rows = b"".join(f'<tr id="stock-{n}"><td data-sku="SHEET-{n}" data-location="all">{n * 7}</td></tr>\r\n'.encode()
                    for n in range(200))
    assert len(deflated(rows).data) * 5 < len(rows)


@pytest.mark.parametrize("header, offered", [("gzip, deflate, br, zstd", True), ("deflate", True),
                                             ("gzip;q=1.0, Deflate;q=0.5", True), ("deflate;q=0", False),
                                             ("gzip, br", False), ("", False), ("*", False),
                                             ("deflate;q=nonsense", False)])
def test_deflate_is_used_only_when_the_browser_offers_it(header: str, offered: bool) -> None:
    assert accepts_deflate(header) is offered


async def test_a_flush_is_deflated_once_for_every_compressed_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = deflate_module.deflated

    def counted(plain: bytes) -> deflate_module.Segment:
        calls.append(len(plain))
        return real(plain)

    monkeypatch.setattr(deflate_module, "deflated", counted)
    feed = FakeFeed()
    fanout = Fanout(feed.subscribe, feed.encode, every=0)
    compressed = [fanout.join(STOCK, None, deflate=True) for _ in range(50)]
    plain = fanout.join(STOCK, None)
    feed.queue.put_nowait(stock(1, 7))
    bodies = [await received(stream) for stream in compressed]
    expected = await received(plain)
    pinged = compressed[0].ping()
    fanout.close()
    assert len(calls) == 1, "one compression for the flush, not one per stream"
    for stream, body in zip(compressed, bodies, strict=True):
        tail = pinged + stream.finish() if stream is compressed[0] else stream.finish()
        assert zlib.decompress(body + tail).startswith(expected)
    assert zlib.decompress(bodies[0] + pinged + compressed[0].finish()) == expected + b": ping\r\n\r\n"
    assert plain.ping() == b": ping\r\n\r\n" and plain.finish() == b""
    await asyncio.sleep(0)
