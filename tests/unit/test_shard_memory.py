"""What a stock shard keeps in memory beyond its state is bounded (README: Memory over a long run)."""

from __future__ import annotations

from actors import shard
from actors.shard import ShardCore
from inventory.commands import VariantStock


def test_a_shard_remembers_at_most_ten_thousand_command_answers() -> None:
    core = ShardCore(0, 1, "sqlite+aiosqlite:///unused.db")  # never started: no store is opened
    for n in range(25_000):
        core._remember(f"api:key:admin-token:/api/v1/stock/receipts:{n}", VariantStock(n, {1: (n, 0)}, 0))
    assert shard.REMEMBERED_RESULTS <= 10_000
    assert len(core._results) == shard.REMEMBERED_RESULTS
    assert f"api:key:admin-token:/api/v1/stock/receipts:{25_000 - 1}" in core._results  # the newest kept
