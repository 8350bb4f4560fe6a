"""Reading stock-take and catalog uploads: every row checked, each bad one named by row and column."""

from __future__ import annotations

import pytest

from web.dashboard.csv_rows import (
    BadFile,
    CountRow,
    Rejected,
    catalog_rows,
    decode,
    rejected_csv,
    stocktake_rows,
)

SKUS = {"SHEET-Q-WHT", "SHEET-K-WHT"}
LOCATIONS = {"WH-EAST", "STORE-SOHO"}


def test_good_stocktake_rows_are_read_with_their_line_numbers() -> None:
    good, rejected = stocktake_rows("sku,location,count\nSHEET-Q-WHT,WH-EAST,12\nSHEET-K-WHT,STORE-SOHO,0\n",
                                    SKUS, LOCATIONS)
    assert good == [CountRow(2, "SHEET-Q-WHT", "WH-EAST", 12), CountRow(3, "SHEET-K-WHT", "STORE-SOHO", 0)]
    assert rejected == []


def test_each_bad_stocktake_row_is_rejected_with_its_column_and_reason_and_the_good_ones_kept() -> None:
    text = ("SKU , Location,COUNT\n"
            "SHEET-Q-WHT,WH-EAST,5\n"
            "NOPE,WH-EAST,1\n"
            "SHEET-K-WHT,MOON,1\n"
            "SHEET-K-WHT,WH-EAST,-3\n"
            "SHEET-K-WHT,WH-EAST,lots\n"
            "\n"
            "SHEET-K-WHT,WH-EAST\n"
            "SHEET-Q-WHT,WH-EAST,6\n")
    good, rejected = stocktake_rows(text, SKUS, LOCATIONS)
    assert good == [CountRow(2, "SHEET-Q-WHT", "WH-EAST", 5)]
    assert [(r.row, r.column) for r in rejected] == [(3, "sku"), (4, "location"), (5, "count"), (6, "count"),
                                                     (8, "*"), (9, "sku")]
    assert "first on row 2" in rejected[-1].reason


def test_a_stocktake_without_a_count_column_is_refused_whole() -> None:
    with pytest.raises(BadFile, match="count missing"):
        stocktake_rows("sku,location\nSHEET-Q-WHT,WH-EAST\n", SKUS, LOCATIONS)
    with pytest.raises(BadFile, match="empty"):
        stocktake_rows("", SKUS, LOCATIONS)


def test_a_file_that_is_not_utf8_is_refused_and_a_byte_order_mark_is_ignored() -> None:
    with pytest.raises(BadFile, match="UTF-8"):
        decode(b"sku\xff")
    assert decode("\ufeffsku".encode()) == "sku"


def test_catalog_rows_check_codes_lengths_reorder_points_and_repeats() -> None:
    text = ("product_sku,product_name,sku,size,color,material,reorder_point\n"
            "THROW,Wool throw,THROW-S,small,grey,wool,4\n"
            "THROW,,THROW-L,large,grey,wool,\n"
            "THROW,,bad sku,large,grey,wool,\n"
            "THROW,,THROW-X,large,grey,wool,-1\n"
            "THROW,,THROW-S,small,grey,wool,2\n")
    good, rejected = catalog_rows(text)
    assert [(row.row, row.sku, row.reorder_point) for row in good] == [(2, "THROW-S", 4), (3, "THROW-L", None)]
    assert [(r.row, r.column) for r in rejected] == [(4, "sku"), (5, "reorder_point"), (6, "sku")]


def test_the_rejected_rows_report_is_a_csv_of_row_column_and_reason() -> None:
    assert rejected_csv([Rejected(3, "count", "must be a whole number")]) == (
        "row,column,reason\r\n3,count,must be a whole number\r\n")
