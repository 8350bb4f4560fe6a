"""Kits in the pure domain: availability from the components' stock, an order's kit lines expanded
into component lines and folded back, and a kit order placed through the desk over real books."""

from __future__ import annotations

from inventory.allocation import order_status
from inventory.commands import LineState, LineStatus, OrderStatus, Receive, VariantStock
from inventory.desk import Channel, OrderOutcome, StockDesk
from inventory.kits import Kit, KitLine, expand, fold, kit_stock
from tests.unit.test_desk import A2, B2, A, B, Shards
from tests.unit.test_router import router_for

EAST, WEST = 1, 2
SET = 900
QUEEN_SET = Kit(SET, ((A, 1), (B, 2)))  # a flat sheet and two pillowcases
SHOP = Channel("shop", "reject", (EAST, WEST))


def test_a_kit_is_available_per_location_as_its_scarcest_component_allows() -> None:
    stock = kit_stock(QUEEN_SET, {A: {EAST: (5, 3), WEST: (1, 0)}, B: {EAST: (6, 0), WEST: (3, 0)}})
    # east: 5 sheets (2 free) and 3 pairs of pillowcases; west: 1 sheet and 1 pair
    assert stock.levels == {EAST: (3, 1), WEST: (1, 0)}
    assert (stock.on_hand, stock.available) == (4, 3)


def test_a_kits_total_counts_components_from_different_locations() -> None:
    # one sheet in the east, two pillowcases in the west: no location makes a set, the order can
    stock = kit_stock(QUEEN_SET, {A: {EAST: (1, 0)}, B: {WEST: (2, 0)}})
    assert stock.levels == {EAST: (0, 0), WEST: (0, 0)}
    assert (stock.on_hand, stock.available) == (1, 1)


def test_a_kit_with_a_component_never_stocked_has_none() -> None:
    assert kit_stock(QUEEN_SET, {A: {EAST: (9, 0)}}).available == 0


def test_a_kits_total_over_a_channel_counts_only_the_channels_locations() -> None:
    stock = kit_stock(QUEEN_SET, {A: {EAST: (1, 0), WEST: (5, 0)}, B: {EAST: (2, 0), WEST: (10, 0)}},
                      locations=[EAST])
    assert (stock.available, stock.levels) == (1, {EAST: (1, 0)})


def test_an_order_expands_each_kit_line_into_its_component_lines() -> None:
    lines, plan = expand([(A2, 1), (SET, 3), (B2, 2)], {SET: QUEEN_SET})
    assert lines == [(A2, 1), (A, 3), (B, 6), (B2, 2)]
    assert plan == (KitLine(2, SET, 3, 2, 2),)


def test_an_order_without_kits_is_left_as_it_is() -> None:
    assert expand([(A, 1), (B, 2)], {SET: QUEEN_SET}) == ([(A, 1), (B, 2)], ())


def line(no: int, variant: int, quantity: int, allocations: dict[int, int], backordered: int = 0,
         state: LineStatus = LineStatus.OPEN) -> LineState:
    return LineState(no, variant, quantity, allocations, backordered, state)


def test_a_kit_line_folds_back_as_the_client_sent_it() -> None:
    parts = [line(1, A2, 1, {EAST: 1}), line(2, A, 2, {EAST: 2}), line(3, B, 4, {EAST: 3, WEST: 1})]
    plain, kit = fold(parts, [KitLine(2, SET, 2, 2, 2)])
    assert (plain.variant_id, plain.quantity, plain.components) == (A2, 1, ())
    assert (kit.line_no, kit.variant_id, kit.quantity, kit.reserved, kit.backordered) == (2, SET, 2, 2, 0)
    assert kit.allocations == {EAST: 1}  # the second set takes a pillowcase from the west
    assert [c.variant_id for c in kit.components] == [A, B]


def test_a_kit_lines_backorder_counts_the_kits_its_scarcest_component_is_short_of() -> None:
    parts = [line(1, A, 3, {EAST: 3}), line(2, B, 6, {EAST: 2}, backordered=4)]
    [kit] = fold(parts, [KitLine(1, SET, 3, 1, 2)])
    assert (kit.reserved, kit.backordered) == (1, 2)


def test_a_kit_line_is_cancelled_only_when_every_component_is() -> None:
    parts = [line(1, A, 1, {}, state=LineStatus.CANCELLED), line(2, B, 2, {}, state=LineStatus.FULFILLED)]
    assert fold(parts, [KitLine(1, SET, 1, 1, 2)])[0].state == LineStatus.FULFILLED


async def place(desk: StockDesk, external_id: str, lines: list[tuple[int, int]]) -> OrderOutcome:
    async def keep(order_id: str, signature: str, plan: object) -> None:
        plans.append(plan)

    plans: list[object] = []
    desk._kit_plans = keep
    result = await desk.place_order(SHOP, external_id, lines, "test", {SET: QUEEN_SET})
    assert isinstance(result, OrderOutcome), result
    return result


async def test_a_kit_order_reserves_every_component_on_every_shard_or_none() -> None:
    shards = Shards()
    async with router_for(shards.send, 2) as router:
        desk = StockDesk(router)
        for n, (variant, quantity) in enumerate([(A, 2), (B, 3)]):
            assert isinstance(await desk.stock_command(Receive(f"r{n}", variant, EAST, quantity)),
                              VariantStock)
        first = await place(desk, "1", [(SET, 1)])
        assert order_status(first.lines) == OrderStatus.RESERVED
        assert (shards.level(A), shards.level(B)) == ((2, 1), (3, 2))
        second = await place(desk, "2", [(SET, 1)])  # one sheet left, one pillowcase: refused whole
        assert order_status(second.lines) == OrderStatus.REJECTED
        assert (shards.level(A), shards.level(B)) == ((2, 1), (3, 2))


async def test_a_kit_order_sent_again_is_answered_the_first_way_and_reserves_nothing_more() -> None:
    shards = Shards()
    async with router_for(shards.send, 2) as router:
        desk = StockDesk(router)
        for n, (variant, quantity) in enumerate([(A, 5), (B, 5)]):
            await desk.stock_command(Receive(f"r{n}", variant, EAST, quantity))
        first = await place(desk, "1", [(SET, 2)])
        again = await place(desk, "1", [(SET, 2)])
        assert (first.created, again.created) == (True, False)
        assert again.kit_lines == first.kit_lines
        assert (shards.level(A), shards.level(B)) == ((5, 2), (5, 4))


async def test_a_desk_without_a_place_for_kit_plans_refuses_kits() -> None:
    shards = Shards()
    async with router_for(shards.send, 2) as router:
        refused = await StockDesk(router).place_order(SHOP, "1", [(SET, 1)], "test", {SET: QUEEN_SET})
    assert not isinstance(refused, OrderOutcome)
    assert shards.level(A) == (0, 0)
