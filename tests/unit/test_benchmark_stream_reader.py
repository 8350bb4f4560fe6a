"""The benchmark's stream reader undoes HTTP chunking whatever the reads cut, as a browser would."""

from __future__ import annotations

import random

import pytest

from tests.benchmark.streams import Dechunked

pytestmark = pytest.mark.unit


def test_the_chunks_data_comes_back_however_the_reads_cut_it() -> None:
    pieces = [bytes(random.randrange(256) for _ in range(random.randrange(1, 300))) for _ in range(50)]
    wire = b"".join(b"%x;ext=1\r\n" % len(p) + p + b"\r\n" if i % 7 == 0 else b"%x\r\n" % len(p) + p + b"\r\n"
                    for i, p in enumerate(pieces)) + b"0\r\n\r\n"
    for _ in range(20):
        reader, got, at = Dechunked(), [], 0
        while at < len(wire):
            step = random.randint(1, 40)
            got.extend(reader.feed(wire[at:at + step]))
            at += step
        assert b"".join(got) == b"".join(pieces)
