"""StockBook under random traffic of every kind of command: never oversold, no backorder waiting
beside free stock, and the ledger folds to the levels."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from inventory import commands as c
from inventory.book import StockBook
from inventory.model import Changes

VARIANTS = (21, 22, 23)
LOCATIONS = (1, 2, 3)
CHANNEL_LOCATIONS = ((1, 2), (2, 1), (3,), (1, 2, 3))


class Traffic:
    """Random commands of every kind, with enough repeats and refusals to reach every branch."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self.orders: dict[str, str] = {}  # order id -> signature
        self.clock = 0.0

    def next(self) -> c.Command:
        rng = self.rng
        variant, location = rng.choice(VARIANTS), rng.choice(LOCATIONS)
        kind = rng.choices(
            ["receive", "delta", "count", "transfer", "place", "replace", "fulfil", "cancel", "abort"],
            weights=[10, 5, 3, 6, 25, 3, 12, 8, 2],
        )[0]
        cid = f"c{rng.getrandbits(48)}"
        if kind == "receive":
            return c.Receive(cid, variant, location, rng.randint(1, 6))
        if kind == "delta":
            return c.Adjust(cid, variant, location, "correction", delta=rng.randint(-5, 5))
        if kind == "count":
            return c.Adjust(cid, variant, location, "count", counted=rng.randint(0, 10))
        if kind == "transfer":
            return c.Transfer(cid, variant, location, rng.choice(LOCATIONS), rng.randint(1, 5))
        if kind in ("place", "replace") or not self.orders:
            return self._place(reuse=kind == "replace" and bool(self.orders))
        order_id = rng.choice(list(self.orders))
        if kind == "fulfil":
            return c.FulfilOrder(order_id)
        return c.CancelOrder(order_id) if kind == "cancel" else c.AbortOrder(order_id)

    def _place(self, reuse: bool) -> c.PlaceOrder:
        rng = self.rng
        lines = tuple(
            c.LineRequest(no, rng.choice(VARIANTS), rng.randint(1, 6)) for no in range(1, rng.randint(1, 3) + 1)
        )
        signature = repr(lines)
        if reuse:  # a replay (same lines) or a reuse of the id (other lines, refused)
            order_id = self.rng.choice(list(self.orders))
            if rng.random() < 0.5:
                signature = self.orders[order_id]
        else:
            order_id = f"o{len(self.orders)}"
            self.orders[order_id] = signature
        self.clock += rng.choice((0.0, 1.0))  # ties in placed_at happen too
        policy: c.Policy = rng.choice(("reject", "backorder"))
        return c.PlaceOrder(order_id, "ch", order_id, policy, rng.choice(CHANNEL_LOCATIONS), lines,
                          self.clock, signature)


def assert_never_oversold(book: StockBook) -> None:
    for variant, by_location in book.levels.items():
        for location, level in by_location.items():
            assert 0 <= level.reserved <= level.on_hand, (variant, location, level)


def assert_no_backorder_waits_beside_free_stock(book: StockBook) -> None:
    for variant, queue in book.backorders.items():
        for _, order_id, _ in queue:
            part = book.parts[order_id]
            free = [book.level(variant, loc).available for loc in part.locations]
            assert not any(free), (order_id, variant, free)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_traffic_never_oversells_and_the_ledger_folds_to_the_levels(seed: int) -> None:
    book = StockBook()
    traffic = Traffic(seed)
    folded: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    outcomes: dict[str, int] = defaultdict(int)
    for _ in range(400):
        changes = Changes()  # several commands per Changes, as a shard's batch does
        for _ in range(traffic.rng.randint(1, 8)):
            command = traffic.next()
            result = book.apply(command, changes)
            outcomes[type(result).__name__ + (f":{result.code}" if isinstance(result, c.Failure) else "")] += 1
            assert_never_oversold(book)
        assert_no_backorder_waits_beside_free_stock(book)
        for entry in changes.ledger:
            key = (entry.variant_id, entry.location_id)
            folded[key][0] += entry.delta_on_hand
            folded[key][1] += entry.delta_reserved
            assert key in changes.levels

    stock = {(v, loc): [lv.on_hand, lv.reserved]
             for v, by_location in book.levels.items() for loc, lv in by_location.items()}
    assert {k: v for k, v in folded.items() if v != [0, 0]} == {k: v for k, v in stock.items() if v != [0, 0]}

    allocated: dict[tuple[int, int], int] = defaultdict(int)
    waiting: dict[int, int] = defaultdict(int)
    queued = {(oid, no) for queue in book.backorders.values() for _, oid, no in queue}
    for part in book.parts.values():
        for line in part.lines:
            if line.state != c.LineStatus.OPEN:
                assert (part.order_id, line.line_no) not in queued
                continue
            assert sum(line.allocations.values()) + line.backordered == line.quantity
            assert {loc for loc, q in line.allocations.items() if q} <= set(part.locations)
            assert ((part.order_id, line.line_no) in queued) == (line.backordered > 0)
            waiting[line.variant_id] += line.backordered
            for loc, quantity in line.allocations.items():
                allocated[(line.variant_id, loc)] += quantity
    for (variant, location), (_, reserved) in stock.items():
        assert reserved == allocated.get((variant, location), 0), (variant, location)
    for variant in VARIANTS:
        assert book.stock_of(variant).backordered == waiting[variant]

    # the traffic reached every branch worth reaching
    for outcome in ("VariantStock", "OrderPartState", "Failure:below_reserved", "Failure:insufficient_stock",
                    "Failure:external_id_reused", "Failure:order_backordered", "Failure:order_fulfilled"):
        assert outcomes[outcome] > 0, (outcome, dict(outcomes))
