"""A stock grid row: totals, availability per location, the low-stock flag, built from a live event."""

from __future__ import annotations

from inventory.commands import VariantStock
from service.events import stock_data
from store.stock_grid import VariantInfo
from web.dashboard import build_environment
from web.dashboard.stock_rows import StockFilters, StockRow, row_from_event
from web.dashboard.stream import compact

INFO = VariantInfo(7, "SHEET-Q-WHT", "SHEET", "Sheet", "queen", "white", "cotton", reorder_point=10)


def test_a_row_totals_its_locations_and_is_low_at_or_below_the_reorder_point() -> None:
    row = StockRow(INFO, {"WH-EAST": (8, 2), "STORE-SOHO": (4, 0)}, backordered=1)
    assert (row.total_on_hand, row.total_reserved, row.total_available) == (12, 2, 10)
    assert row.available("WH-EAST") == 6 and row.available("WH-WEST") == 0
    assert row.low
    assert not StockRow(INFO, {"WH-EAST": (11, 0)}).low
    assert not StockRow(VariantInfo(7, "S", "P", "N", "", "", "", reorder_point=None), {}).low


def test_a_live_stock_event_becomes_the_same_row_the_page_shows() -> None:
    event = stock_data("SHEET-Q-WHT", VariantStock(7, {1: (8, 2)}, 3))
    assert row_from_event(INFO, event, {1: "WH-EAST"}.__getitem__) == StockRow(INFO, {"WH-EAST": (8, 2)}, 3)


def test_filters_round_trip_through_the_query_string_dropping_empty_ones() -> None:
    filters = StockFilters.from_query({"size": " queen ", "low": "1", "q": "", "location": "WH-EAST"})
    assert filters == StockFilters(size="queen", location="WH-EAST", low_only=True)
    assert filters.query() == {"size": "queen", "location": "WH-EAST", "low": "1"}


def test_a_streamed_row_is_one_line_with_the_same_cells_and_text_as_the_pages_row() -> None:
    macros = build_environment().get_template("stock_rows.html").module
    page = str(macros.stock_row(StockRow(INFO, {"WH-EAST": (8, 2)}, 3), ["WH-EAST", "STORE-SOHO"]))
    streamed = compact(page)
    assert "\n" in page and "\n" not in streamed and len(streamed) < len(page)
    assert streamed.startswith('<tr id="stock-7"') and streamed.endswith("</tr>")
    assert streamed == "".join(line.strip() for line in page.splitlines())


def test_compacting_keeps_whitespace_inside_a_cells_text() -> None:
    assert compact('<td>\n  <b>8 / 2</b> of\n  x</td>\n  <td>1</td>') == '<td><b>8 / 2</b> of\n  x</td><td>1</td>'
