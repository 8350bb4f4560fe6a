"""Where polling Shopify's orders stands, as the opaque cursor the sync stores between polls. Pure."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from connectors.shopify_format import parse_time


@dataclass(frozen=True, slots=True)
class OrdersCursor:
    """Where polling stands: `since` (updated_at_min, inclusive, so an order written in the same second
    after our read is not missed; the boundary order comes again and dedupes), and while paging
    the Link header's `page_info` plus the latest updated_at seen so far."""

    since: str
    page_info: str | None = None
    seen: str | None = None

    def encode(self) -> str:
        return json.dumps({"since": self.since, "page_info": self.page_info, "seen": self.seen})

    @classmethod
    def decode(cls, text: str | None) -> OrdersCursor | None:
        try:
            data = json.loads(text or "")
            return cls(str(data["since"]), data.get("page_info"), data.get("seen"))
        except (ValueError, TypeError, KeyError):
            return None

    def after_page(self, orders: Sequence[Mapping[str, Any]], next_info: str | None) -> OrdersCursor:
        seen = self.seen
        for order in orders:
            seen = later(seen, order.get("updated_at"))
        if next_info is not None:
            return replace(self, page_info=next_info, seen=seen)
        return OrdersCursor(since=later(self.since, seen) or self.since)


def later(a: str | None, b: Any) -> str | None:
    """The later of two Shopify timestamps, kept in the partner's own spelling."""
    if parse_time(b) is None:
        return a
    if a is None or parse_time(a) is None:
        return str(b)
    return str(b) if (parse_time(b) or 0) > (parse_time(a) or 0) else a
