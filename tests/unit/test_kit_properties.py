"""Property: kit availability and kit orders, through the real desk over real books on two shards,
agree with a simple model: stock as a table of free units per (variant, location), every line taken
in turn from the channel's locations in order, an order refused whole when any line is short."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from inventory.allocation import order_status
from inventory.commands import OrderStatus, Receive, VariantStock
from inventory.desk import Channel, OrderOutcome, StockDesk
from inventory.kits import Kit, KitLine, expand, kit_stock
from tests.unit.test_desk import A2, B2, A, B, Shards
from tests.unit.test_router import router_for

LOCATIONS = (1, 2, 3)
VARIANTS = (A, A2, B, B2)
KIT_IDS = (900, 901)

kits = st.lists(st.tuples(st.sampled_from(VARIANTS), st.integers(1, 3)), min_size=1, max_size=3,
                unique_by=lambda pair: pair[0])
stock = st.dictionaries(st.tuples(st.sampled_from(VARIANTS), st.sampled_from(LOCATIONS)),
                        st.integers(0, 8), max_size=12)
orders = st.lists(st.lists(st.tuples(st.sampled_from(VARIANTS + KIT_IDS), st.integers(1, 4)),
                           min_size=1, max_size=3), min_size=1, max_size=8)
channels = st.permutations(LOCATIONS).flatmap(lambda order: st.integers(1, 3).map(lambda n: order[:n]))


class Model:
    def __init__(self, free: dict[tuple[int, int], int]):
        self.free = dict(free)

    def levels(self) -> dict[int, dict[int, tuple[int, int]]]:
        found: dict[int, dict[int, tuple[int, int]]] = {}
        for (variant, location), units in self.free.items():
            found.setdefault(variant, {})[location] = (units, 0)
        return found

    def place(self, lines: Sequence[tuple[int, int]], locations: Sequence[int]) -> bool:
        after = dict(self.free)
        for variant, quantity in lines:
            for location in locations:
                take = min(quantity, after.get((variant, location), 0))
                after[(variant, location)] = after.get((variant, location), 0) - take
                quantity -= take
            if quantity:
                return False
        self.free = after
        return True


def free_in(shards: Shards, variant: int, locations: Sequence[int]) -> dict[int, int]:
    found = {}
    for location in locations:
        on_hand, reserved = shards.level(variant, location)
        assert 0 <= reserved <= on_hand  # never oversold
        found[location] = on_hand - reserved
    return found


async def run(definitions: dict[int, Kit], start: dict[tuple[int, int], int], placed: list[list[tuple[int, int]]],
              locations: tuple[int, ...]) -> None:
    shards, model, channel = Shards(), Model(start), Channel("shop", "reject", locations)

    async def keep(order_id: str, signature: str, plan: Sequence[KitLine]) -> None:
        return None

    async with router_for(shards.send, 2) as router:
        desk = StockDesk(router, kit_plans=keep)
        for n, ((variant, location), units) in enumerate(start.items()):
            if units:
                assert isinstance(await desk.stock_command(Receive(f"r{n}", variant, location, units)),
                                  VariantStock)
        for n, lines in enumerate(placed):
            for kit in definitions.values():  # what a kit shows is what one kit line could get
                shown = kit_stock(kit, model.levels(), locations).available
                assert Model(model.free).place(expand([(kit.variant_id, shown)], definitions)[0], locations) \
                    or shown == 0
                assert not Model(model.free).place(expand([(kit.variant_id, shown + 1)], definitions)[0],
                                                   locations)
            accepted = model.place(expand(lines, definitions)[0], locations)
            result = await desk.place_order(channel, str(n), lines, "test", definitions)
            assert isinstance(result, OrderOutcome)
            assert (order_status(result.lines) == OrderStatus.RESERVED) == accepted
            for variant in VARIANTS:
                want = {loc: model.free.get((variant, loc), 0) for loc in locations}
                assert free_in(shards, variant, locations) == want


@settings(max_examples=40, deadline=None)
@given(first=kits, second=kits, start=stock, placed=orders, locations=channels)
def test_kit_availability_and_kit_orders_agree_with_a_simple_model(
        first: list[tuple[int, int]], second: list[tuple[int, int]], start: dict[tuple[int, int], int],
        placed: list[list[tuple[int, int]]], locations: tuple[int, ...]) -> None:
    definitions = {900: Kit(900, tuple(first)), 901: Kit(901, tuple(second))}
    asyncio.run(run(definitions, start, placed, locations))
