"""The live stream's stock rows from skeletons (web/dashboard/row_skeletons.py): the same bytes as
the page's macro renders, for random rows (names with markup and braces, kits' totals, no reorder
point, low or not, missing locations), and one skeleton a variant and low-or-not."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from store.stock_grid import VariantInfo
from web.dashboard import build_environment
from web.dashboard.row_skeletons import RowSkeletons
from web.dashboard.stock_rows import StockRow
from web.dashboard.stream import _row_macro, compact

ENV = build_environment()
CODES = ["WH-EAST", "WH-WEST", "STORE-SOHO", "A&B <1>"]
texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
infos = st.builds(VariantInfo, variant_id=st.integers(1, 10**6), sku=texts, product_sku=texts, product_name=texts,
                  size=texts, color=texts, material=texts, reorder_point=st.none() | st.integers(-5, 50))
levels = st.dictionaries(st.sampled_from(CODES), st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)))
rows = st.builds(StockRow, info=infos, levels=levels, backordered=st.integers(0, 100),
                 totals=st.none() | st.tuples(st.integers(0, 1000), st.integers(0, 1000)))


def by_macro(row: StockRow) -> str:
    return compact(str(_row_macro(ENV)(row, CODES)))


@settings(max_examples=300, deadline=None)
@given(row=rows)
def test_a_row_from_its_skeleton_is_the_macros_own_bytes(row: StockRow) -> None:
    skeletons = RowSkeletons()
    assert skeletons.render(lambda: _row_macro(ENV), row, CODES, compact) == by_macro(row)


def test_a_variant_has_one_skeleton_for_low_and_one_for_not_and_changes_fill_them() -> None:
    info = VariantInfo(7, "SHEET-Q", "SHEET", "Linen {sheet}", "queen", "sage", "linen", 10)
    skeletons = RowSkeletons()
    for on_hand in (100, 90, 80, 5, 4, 100):
        row = StockRow(info, {"WH-EAST": (on_hand, 1)})
        assert skeletons.render(lambda: _row_macro(ENV), row, CODES, compact) == by_macro(row)
    assert skeletons.made == 2
