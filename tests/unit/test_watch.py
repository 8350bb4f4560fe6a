"""Which alerts the stock feed implies: low stock at the reorder point, units backordered; raised when
the condition starts to hold, once, and again only after it cleared. No Ray, no store."""

from __future__ import annotations

from service.watch import NewAlert, StockLevel, Watch, conditions, level_of


def level(available: int, backordered: int = 0, sku: str = "SHEET-Q-WHT", variant_id: int = 7) -> StockLevel:
    return StockLevel(variant_id, sku, available, backordered)


def kinds(alerts: list[NewAlert]) -> list[tuple[str, str]]:
    return [(a.kind, a.key) for a in alerts]


def test_stock_at_the_reorder_point_is_low_and_one_above_is_not() -> None:
    assert list(conditions(level(5), 5)) == ["low_stock"]
    assert conditions(level(6), 5) == {}


def test_a_variant_without_a_reorder_point_is_never_low() -> None:
    assert conditions(level(0), None) == {}


def test_backordered_units_are_an_alert_whatever_the_reorder_point() -> None:
    assert list(conditions(level(0, backordered=3), None)) == ["backorder"]
    assert "3 units backordered" in conditions(level(0, backordered=3), None)["backorder"]


def test_the_message_names_the_sku_the_units_and_the_reorder_point() -> None:
    message = conditions(level(2, sku="DUVET-K-NVY"), 4)["low_stock"]
    assert "DUVET-K-NVY" in message and "2 available" in message and "4" in message


def test_falling_to_the_reorder_point_raises_low_stock_once_however_many_sales_follow() -> None:
    watch = Watch(reorder_points={7: 5})
    assert watch.see(level(9)) == []
    assert kinds(watch.see(level(5))) == [("low_stock", "SHEET-Q-WHT")]
    assert watch.see(level(4)) == []
    assert watch.see(level(1)) == []


def test_an_alert_already_open_in_the_store_is_not_raised_again() -> None:
    watch = Watch(reorder_points={7: 5}, open={("low_stock", "SHEET-Q-WHT")})
    assert watch.see(level(3)) == []


def test_an_acknowledged_alert_stays_quiet_while_the_stock_stays_low() -> None:
    watch = Watch(reorder_points={7: 5})
    watch.see(level(3))
    watch.opened("low_stock", "SHEET-Q-WHT")
    watch.closed("low_stock", "SHEET-Q-WHT")
    assert watch.see(level(2)) == []


def test_after_restocking_the_next_fall_raises_a_new_alert() -> None:
    watch = Watch(reorder_points={7: 5})
    watch.see(level(3))
    watch.opened("low_stock", "SHEET-Q-WHT")
    watch.closed("low_stock", "SHEET-Q-WHT")
    assert watch.see(level(20)) == []
    assert kinds(watch.see(level(4))) == [("low_stock", "SHEET-Q-WHT")]


def test_a_restock_while_the_alert_is_open_does_not_raise_a_second_one_on_the_next_fall() -> None:
    watch = Watch(reorder_points={7: 5})
    watch.see(level(3))
    watch.opened("low_stock", "SHEET-Q-WHT")
    watch.see(level(20))
    assert watch.see(level(4)) == []


def test_a_sale_into_backorder_raises_both_alerts_for_the_variant() -> None:
    watch = Watch(reorder_points={7: 2})
    assert kinds(watch.see(level(0, backordered=1))) == [("low_stock", "SHEET-Q-WHT"),
                                                         ("backorder", "SHEET-Q-WHT")]
    assert watch.see(level(0, backordered=4)) == []


def test_variants_are_watched_each_on_their_own() -> None:
    watch = Watch(reorder_points={1: 5, 2: 5})
    assert kinds(watch.see(level(3, sku="A", variant_id=1))) == [("low_stock", "A")]
    assert kinds(watch.see(level(3, sku="B", variant_id=2))) == [("low_stock", "B")]


def test_a_stock_event_reads_as_a_level_and_anything_else_as_none() -> None:
    data = {"variant_id": 7, "sku": "SHEET-Q-WHT", "available": 3, "on_hand": 5, "reserved": 2,
            "backordered": 1, "locations": []}
    assert level_of(data) == StockLevel(7, "SHEET-Q-WHT", 3, 1)
    assert level_of({"sku": "X"}) is None
    assert level_of({"variant_id": "seven", "sku": "X", "available": 1}) is None
