"""Lines waiting for stock, per variant, oldest first: the order in which arriving stock fills them."""

from __future__ import annotations

import bisect

Entry = tuple[float, str, int]  # (placed_at, order_id, line_no)


class Backorders(dict[int, list[Entry]]):
    def add(self, variant_id: int, entry: Entry) -> None:
        bisect.insort(self.setdefault(variant_id, []), entry)

    def drop(self, variant_id: int, entry: Entry) -> None:
        queue = self.get(variant_id)
        if queue and entry in queue:
            queue.remove(entry)

    def oldest_first(self, variant_id: int) -> list[Entry]:
        """A copy, so filling may drop entries while walking it."""
        return list(self.get(variant_id, ()))
