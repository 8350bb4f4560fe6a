"""Orders by channel and status, newest first, for the dashboard. The status is not stored (it is
derived from the lines, inventory.allocation.order_status); here the same rules are asked of the lines
in SQL, each an indexed EXISTS on the order's lines, so the newest matches come first without
reading every order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, exists, not_
from sqlalchemy.ext.asyncio import AsyncEngine

from inventory.commands import LineStatus, OrderStatus
from store.queries import StoredOrder, orders_where
from store.schema import order_lines, orders

STATUSES = tuple(OrderStatus)


def _lines(*conditions: Any) -> Any:
    return exists().where(order_lines.c.order_seq == orders.c.seq, *conditions)


def status_condition(status: str) -> Any:
    rejected = _lines(order_lines.c.state == LineStatus.REJECTED)
    open_ = _lines(order_lines.c.state == LineStatus.OPEN)
    waiting = _lines(order_lines.c.state == LineStatus.OPEN, order_lines.c.backordered > 0)
    holding = _lines(order_lines.c.state == LineStatus.OPEN, order_lines.c.allocations != "")
    fulfilled = _lines(order_lines.c.state == LineStatus.FULFILLED)
    rules = {
        OrderStatus.REJECTED: rejected,
        OrderStatus.FULFILLED: and_(not_(rejected), not_(open_), fulfilled),
        OrderStatus.CANCELLED: and_(not_(rejected), not_(open_), not_(fulfilled)),
        OrderStatus.RESERVED: and_(not_(rejected), open_, not_(waiting)),
        OrderStatus.BACKORDERED: and_(not_(rejected), waiting, not_(holding)),
        OrderStatus.PARTIALLY_BACKORDERED: and_(not_(rejected), waiting, holding),
    }
    return rules[OrderStatus(status)]


async def search_orders(engine: AsyncEngine, channel: str | None, status: str | None,
                        limit: int) -> list[StoredOrder]:
    conditions = []
    if channel:
        conditions.append(orders.c.channel == channel)
    if status:
        conditions.append(status_condition(status))
    return await orders_where(engine, *conditions, limit=limit)
