"""Which shard owns a variant: a hash partition of variant ids, stable across restarts."""

from __future__ import annotations


def shard_of(variant_id: int, shard_count: int) -> int:
    # Knuth's multiplicative hash spreads sequential ids evenly over any shard count.
    return ((variant_id * 2654435761) & 0xFFFFFFFF) % shard_count
