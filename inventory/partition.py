"""Which shard owns a variant: a hash partition of variant ids, stable across restarts."""

from __future__ import annotations

import time


def shard_of(variant_id: int, shard_count: int) -> int:
    # Knuth's multiplicative hash spreads sequential ids evenly over any shard count.
    return ((variant_id * 2654435761) & 0xFFFFFFFF) % shard_count


class OrderSeqs:
    """Storage keys for new orders, rising with time: milliseconds since the epoch, a counter within
    the millisecond, and the generator's own number in the low byte, so two generators (the shards,
    the web process) never make the same key. Rising keys keep the order and line tables' indexes
    appending at their ends; random ones (the public order id is a hash) put every insert on a
    different page."""

    def __init__(self, generator: int):
        if not 0 <= generator < 256:
            raise ValueError("generator must be 0..255")
        self._generator = generator
        self._last = 0

    def next(self) -> int:
        value = max((time.time_ns() // 1_000_000) << 12, self._last + 1)
        self._last = value
        return value << 8 | self._generator
