"""Reading a kits CSV: one row per component, each bad row named by its line and column."""

from __future__ import annotations

from web.dashboard.csv_rows import Rejected
from web.dashboard.kit_csv import KitRow, _component_index, kit_rows


def test_a_kits_csv_gives_one_row_per_component_and_names_each_bad_row() -> None:
    text = ("kit_sku,kit_name,component_sku,quantity\n"
            "SET-Q,Queen set,FLAT-Q,1\n"
            "SET-Q,,PILLOW-STD,2\n"
            "SET Q,Bad,FLAT-Q,1\n"
            "SET-K,King set,FLAT-K,0\n"
            "SET-K,King set,,1\n")
    rows, rejected = kit_rows(text)
    assert rows == [KitRow(2, "SET-Q", "Queen set", "FLAT-Q", 1), KitRow(3, "SET-Q", "", "PILLOW-STD", 2)]
    assert [(r.row, r.column) for r in rejected] == [(4, "kit_sku"), (5, "quantity"), (6, "component_sku")]
    assert isinstance(rejected[0], Rejected)


def test_a_refusal_naming_a_component_points_at_its_row() -> None:
    assert (_component_index("components[2].sku"), _component_index("components")) == (2, None)
