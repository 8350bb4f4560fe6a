"""Which shard owns a variant: a hash partition of variant ids, stable across restarts."""

from __future__ import annotations

import random
import time


def shard_of(variant_id: int, shard_count: int) -> int:
    # Knuth's multiplicative hash spreads sequential ids evenly over any shard count.
    return ((variant_id * 2654435761) & 0xFFFFFFFF) % shard_count


_last_seq = 0


def new_order_seq() -> int:
    """A storage key for a new order: microseconds since the epoch, times 1024, plus a random part,
    never repeating in this process. Rising keys keep the order and line tables' indexes appending
    at their ends; random ones (the order id is a hash) made every insert land on a different page."""
    global _last_seq
    seq = max(time.time_ns() // 1000 * 1024 + random.randrange(1024), _last_seq + 1)
    _last_seq = seq
    return seq
