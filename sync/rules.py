"""What a partner should show for a variant: the channel's rules applied to the available stock of
the channel's locations. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sync.buffers import AutoBuffer


@dataclass(frozen=True, slots=True)
class ShowRule:
    buffer: int = 0                 # keep this many back from every partner listing
    max_shown: int | None = None    # never show more than this
    pool_percent: int = 100         # show only this share of the pool
    auto: AutoBuffer | None = None  # `buffer: auto`: sized per listing (sync/buffers.py), not `buffer`

    def shown(self, available: int, auto: int | None = None) -> int:
        """`auto`: the listing's auto buffer now. A fixed buffer is taken off every listing; an auto
        one hides the listing once the pool is down to it: a partner risks overselling only the last
        units, so the rest is shown whole (the benchmark measures both)."""
        pool = max(0, available) * self.pool_percent // 100
        quantity = max(0, pool - self.buffer)
        if auto is not None:
            quantity = 0 if pool <= auto else pool
        return quantity if self.max_shown is None else min(quantity, self.max_shown)


def available_in(levels: Mapping[int, tuple[int, int]], locations: Iterable[int]) -> int:
    """Sum of on_hand - reserved over the given locations; `levels` is {location_id: (on_hand, reserved)}."""
    wanted = set(locations)
    return sum(on_hand - reserved for loc, (on_hand, reserved) in levels.items() if loc in wanted)
