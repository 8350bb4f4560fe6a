"""Building blocks of the StockBook tests: a book with stock, orders placed on it, its levels and
its whole state (to show a refused command changed nothing)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from inventory.book import StockBook
from inventory.commands import (
    Command,
    LineRequest,
    OrderPartState,
    PlaceOrder,
    Policy,
    Receive,
    Result,
    VariantStock,
)
from inventory.model import Changes

SHEET, PILLOW = 11, 12
EAST, WEST, SOHO = 1, 2, 3

_ids = itertools.count(1)


def run(book: StockBook, command: Command) -> tuple[Result, Changes]:
    changes = Changes()
    return book.apply(command, changes), changes


def receive(book: StockBook, variant: int, location: int, quantity: int) -> Changes:
    result, changes = run(book, Receive(f"rcv-{next(_ids)}", variant, location, quantity))
    assert isinstance(result, VariantStock)
    return changes


def place(book: StockBook, order_id: str, lines: Sequence[tuple[int, int]], *, policy: Policy = "backorder",
          locations: tuple[int, ...] = (EAST, WEST), placed_at: float | None = None,
          signature: str | None = None) -> tuple[Result, Changes]:
    requests = tuple(LineRequest(no, variant, qty) for no, (variant, qty) in enumerate(lines, start=1))
    command = PlaceOrder(
        order_id=order_id, channel="shop", external_id=order_id, policy=policy, locations=locations,
        lines=requests, placed_at=float(next(_ids)) if placed_at is None else placed_at,
        signature=repr(list(lines)) if signature is None else signature,
    )
    return run(book, command)


def placed(book: StockBook, order_id: str, lines: Sequence[tuple[int, int]],
           **options: Any) -> OrderPartState:
    result, _ = place(book, order_id, lines, **options)
    assert isinstance(result, OrderPartState), result
    return result


def levels(book: StockBook, variant: int) -> dict[int, tuple[int, int]]:
    return book.stock_of(variant).levels


def state(book: StockBook) -> tuple[object, ...]:
    """Everything observable, to show a command changed nothing."""
    stock = {v: book.stock_of(v) for v in book.levels}
    parts = {oid: part.snapshot(created=False) for oid, part in book.parts.items()}
    queues = {v: list(queue) for v, queue in book.backorders.items() if queue}
    return stock, parts, queues


def stocked_book(**stock: int) -> StockBook:
    """A book holding SHEET at the given locations: stocked_book(east=5, west=3)."""
    book = StockBook()
    names = {"east": EAST, "west": WEST, "soho": SOHO}
    for name, quantity in stock.items():
        receive(book, SHEET, names[name], quantity)
    return book


# -- receipts ------------------------------------------------------------------------------------
