"""Where polling Etsy's receipts stands, as the opaque cursor the sync stores between polls. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.etsy_format import receipt_key


@dataclass(frozen=True, slots=True)
class ReceiptCursor:
    """Keyset paging over receipts sorted by `update_timestamp` ascending: `since` is the next
    `min_last_modified` (inclusive) and `seen` what was already read at exactly `since`. Each page
    starts again from `since` instead of moving an offset, so a receipt updated while we page (it
    jumps to the end) shifts nothing we have not read yet; it comes back later with its new state."""

    since: int
    seen: frozenset[str] = frozenset()

    def encode(self) -> str:
        return json.dumps({"since": self.since, "seen": sorted(self.seen)}, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str | None, default_since: int) -> ReceiptCursor:
        if not text:
            return cls(default_since)
        data = json.loads(text)
        return cls(int(data["since"]), frozenset(str(key) for key in data.get("seen", [])))

    def fresh(self, receipts: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The receipts on a page that this cursor has not read yet."""
        return [r for r in receipts if _updated(r) > self.since
                or (_updated(r) == self.since and receipt_key(r) not in self.seen)]

    def after(self, receipts: Sequence[Mapping[str, Any]]) -> ReceiptCursor:
        """The cursor once this page is read."""
        if not receipts:
            return self
        last = max(_updated(r) for r in receipts)
        keys = {receipt_key(r) for r in receipts if _updated(r) == last}
        if last == self.since:
            keys |= self.seen
        return ReceiptCursor(last, frozenset(keys))


def _updated(receipt: Mapping[str, Any]) -> int:
    return int(receipt.get("update_timestamp") or receipt.get("create_timestamp") or 0)
