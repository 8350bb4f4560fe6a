"""The benchmark's stream reader undoes HTTP chunking whatever the reads cut, as a browser would, and
reads what a compressed stream's chunks show."""

from __future__ import annotations

import random
import zlib

import pytest

from tests.benchmark.streams import ZLIB_HEADER, Dechunked, Segments
from web.dashboard.deflate import DeflateStream, deflated

pytestmark = pytest.mark.unit


def test_the_chunks_come_back_whole_however_the_reads_cut_them() -> None:
    pieces = [bytes(random.randrange(256) for _ in range(random.randrange(1, 300))) for _ in range(50)]
    wire = b"".join(b"%x;ext=1\r\n" % len(p) + p + b"\r\n" if i % 7 == 0 else b"%x\r\n" % len(p) + p + b"\r\n"
                    for i, p in enumerate(pieces)) + b"0\r\n\r\n"
    for _ in range(20):
        reader, got, at = Dechunked(), [], 0
        while at < len(wire):
            step = random.randint(1, 40)
            got.extend(reader.feed(wire[at:at + step]))
            at += step
        assert got == pieces


def test_each_compressed_chunk_shows_its_marker_values_and_last_id_and_is_inflated_once() -> None:
    marker = b'data-sku="MARK" data-location="all">'
    flushes = [b"id: 7\ndata: <td " + marker + b"12</td>\n\n",
               b"id: 8\ndata: <td>other</td>\n\nid: 9\ndata: <td " + marker + b"11</td><td " + marker + b"10</td>\n\n"]
    body = DeflateStream()
    chunks = [body.write([deflated(plain)]) for plain in flushes]
    assert chunks[0].startswith(ZLIB_HEADER)
    assert zlib.decompress(b"".join(chunks) + body.end()) == b"".join(flushes)  # what a browser reads
    segments = Segments(marker)
    for _ in range(3):  # three streams bring the same two chunks
        assert segments.read(chunks[0][len(ZLIB_HEADER):]) == ([12], b"7")
        assert segments.read(chunks[1]) == ([11, 10], b"9")
    assert segments.inflated == 2
