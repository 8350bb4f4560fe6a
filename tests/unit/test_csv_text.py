"""CSV exports never hand a spreadsheet a formula: text that would start one is written as text."""

from __future__ import annotations

import csv
import io

from web.csv_text import csv_text
from web.dashboard.csv_io import csv_response
from web.dashboard.csv_rows import Rejected, rejected_csv


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_cells_that_would_start_a_formula_are_written_as_text() -> None:
    text = csv_text(["sku", "name"], [["SHEET-1", '=HYPERLINK("http://evil","click")'], ["A", "+1+1"],
                                      ["B", "@SUM(A1:A9)"], ["C", "-2+3"], ["D", "\tX"], ["E", "\rY"]])
    assert [row[1] for row in rows_of(text)[1:]] == [
        '\'=HYPERLINK("http://evil","click")', "'+1+1", "'@SUM(A1:A9)", "'-2+3", "'\tX", "'\rY"]


def test_numbers_and_plain_text_are_written_as_they_are() -> None:
    assert rows_of(csv_text(["sku", "delta"], [["SHEET-1", -5], ["Pillow = soft", 3]])) == [
        ["sku", "delta"], ["SHEET-1", "-5"], ["Pillow = soft", "3"]]


def test_the_catalog_export_and_the_rejected_rows_report_are_neutralised() -> None:
    exported = csv_response("catalog.csv", ["sku", "name"], [["SHEET-1", "=1+1"]]).body.decode()
    assert rows_of(exported)[1] == ["SHEET-1", "'=1+1"]
    assert rows_of(rejected_csv([Rejected(2, "name", "@cmd")]))[1] == ["2", "name", "'@cmd"]
