"""CSV for people's spreadsheets. A cell a spreadsheet would read as a formula (text starting with
`=`, `+`, `-`, `@`, a tab or a carriage return) is written with a leading apostrophe, so opening an
export never runs what a product name or a reason smuggled in (OWASP's "CSV injection"). Numbers
are numbers and are written as they are."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], lineterminator: str = "\r\n") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow([cell(name) for name in header])
    writer.writerows([cell(value) for value in row] for row in rows)
    return out.getvalue()
