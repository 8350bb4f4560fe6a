"""A `rest` partner's order page read through its declared JMESPath expressions. Pure.

An order whose status the declaration does not map is skipped (a draft, a quote). A line that
cannot be read (no SKU, a quantity that is not a whole number) is kept with sku "" or quantity -1,
so the order reaches the intake whole and is set aside there as a dead letter, with the partner's
own order in `raw`, rather than taken short of a line or dropped unseen."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.base import OrderEvent, OrderEventKind, OrderLine
from connectors.rest_declaration import OrdersPoll


def order_events(payload: Any, poll: OrdersPoll) -> list[OrderEvent]:
    found = poll.orders.search(payload)
    events = []
    for order in found if isinstance(found, list) else []:
        event = _event(order, poll)
        if event is not None:
            events.append(event)
    return events


def _event(order: Any, poll: OrdersPoll) -> OrderEvent | None:
    order_id, status = poll.id.search(order), poll.status.search(order)
    kind = poll.statuses.get(str(status))
    if order_id is None or kind is None:
        return None
    lines = poll.lines.search(order)
    read = tuple(_line(line, poll) for line in (lines if isinstance(lines, list) else []))
    raw = order if isinstance(order, Mapping) else {"order": order}
    return OrderEvent(f"{order_id}:{status}", OrderEventKind(kind), str(order_id), read, None, raw)


def _line(line: Any, poll: OrdersPoll) -> OrderLine:
    sku, quantity = poll.sku.search(line), poll.quantity.search(line)
    return OrderLine(str(sku) if isinstance(sku, str | int) and str(sku) else "", _whole(quantity))


def _whole(value: Any) -> int:
    if isinstance(value, bool):
        return -1
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return -1


def next_cursor(payload: Any, poll: OrdersPoll, cursor: str | None) -> str | None:
    """The page's next cursor, or the one we had when the page names none (nothing new yet)."""
    found = poll.cursor.next.search(payload)
    if found is None or found == "":
        return cursor
    return str(int(found)) if isinstance(found, float) and found.is_integer() else str(found)


def first_cursor(poll: OrdersPoll, now: float | None = None) -> str | None:
    """Where a first poll starts: the beginning of a token feed, or `lookback_s` ago."""
    if poll.cursor.kind == "page_token":
        return None
    start = (time.time() if now is None else now) - poll.cursor.lookback_s
    if poll.cursor.unix:
        return str(int(start))
    return datetime.fromtimestamp(start, UTC).isoformat().replace("+00:00", "Z")


def more_pages(payload: Any, poll: OrdersPoll, count: int, page_size: int, moved: bool) -> bool:
    """Another page is ready: as the partner says, or else a full page that moved the cursor."""
    if poll.more is not None:
        return bool(poll.more.search(payload)) and moved
    return count >= page_size and moved
