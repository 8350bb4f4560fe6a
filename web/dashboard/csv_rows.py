"""Reading uploaded CSV files row by row: every row is checked before anything is applied, and each
bad row is reported by its line in the file (the header is line 1), its column and the reason.
Pure: no web framework, no store."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Container, Iterator
from dataclasses import dataclass

from web.csv_text import csv_text
from web.validation import CODE

STOCKTAKE_COLUMNS = ("sku", "location", "count")
CATALOG_COLUMNS = ("product_sku", "product_name", "description", "sku", "size", "color", "material",
                   "reorder_point")
CATALOG_REQUIRED = ("product_sku", "sku")
MAX_ROWS = 50_000
MAX_COUNT = 10**9


@dataclass(frozen=True, slots=True)
class Rejected:
    row: int
    column: str
    reason: str


@dataclass(frozen=True, slots=True)
class CountRow:
    row: int
    sku: str
    location: str
    count: int


@dataclass(frozen=True, slots=True)
class CatalogRow:
    row: int
    product_sku: str
    product_name: str
    description: str
    sku: str
    size: str
    color: str
    material: str
    reorder_point: int | None


class BadFile(Exception):
    """The file as a whole cannot be read (not CSV, no header, a required column missing)."""


def decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadFile(f"file: not UTF-8 text (byte {exc.start})") from None


def records(text: str, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: trimmed value}) for each non-blank row; columns matched case-blind."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise BadFile("file: empty, a header row is needed") from None
    except csv.Error as exc:
        raise BadFile(f"file: not CSV ({exc})") from None
    missing = [name for name in required if name not in header]
    if missing:
        raise BadFile(f"header: column {', '.join(missing)} missing (found: {', '.join(header) or 'none'})")
    try:
        for number, cells in enumerate(reader, start=2):
            if number - 1 > MAX_ROWS:
                raise BadFile(f"file: more than {MAX_ROWS} rows; split it")
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                yield number, {"__width__": f"{len(cells)} fields where the header has {len(header)}"}
                continue
            yield number, {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
    except csv.Error as exc:
        raise BadFile(f"file: not CSV after line {reader.line_num} ({exc})") from None


def _whole(value: str, minimum: int = 0) -> int | None:
    if not re.fullmatch(r"[+-]?\d{1,10}", value):
        return None
    number = int(value)
    return number if minimum <= number <= MAX_COUNT else None


def stocktake_rows(text: str, skus: Container[str], locations: Container[str]
                   ) -> tuple[list[CountRow], list[Rejected]]:
    good: list[CountRow] = []
    rejected: list[Rejected] = []
    seen: dict[tuple[str, str], int] = {}
    for number, record in records(text, STOCKTAKE_COLUMNS):
        problem = _count_problem(record, skus, locations)
        if problem is None:
            key = (record["sku"], record["location"])
            if key in seen:
                problem = ("sku", f"{key[0]} at {key[1]} is counted twice (first on row {seen[key]})")
            else:
                seen[key] = number
        if problem is not None:
            rejected.append(Rejected(number, *problem))
            continue
        good.append(CountRow(number, record["sku"], record["location"], int(record["count"])))
    return good, rejected


def _count_problem(record: dict[str, str], skus: Container[str], locations: Container[str]
                   ) -> tuple[str, str] | None:
    if "__width__" in record:
        return "*", record["__width__"]
    if not record["sku"]:
        return "sku", "is empty"
    if record["sku"] not in skus:
        return "sku", f"unknown sku {record['sku']!r}"
    if record["location"] not in locations:
        return "location", f"unknown location {record['location']!r}"
    if _whole(record["count"]) is None:
        return "count", f"must be a whole number from 0 to {MAX_COUNT}, not {record['count']!r}"
    return None


def catalog_rows(text: str) -> tuple[list[CatalogRow], list[Rejected]]:
    good: list[CatalogRow] = []
    rejected: list[Rejected] = []
    seen: dict[str, int] = {}
    for number, record in records(text, CATALOG_REQUIRED):
        problem = _catalog_problem(record)
        if problem is None and record["sku"] in seen:
            problem = ("sku", f"{record['sku']} appears twice (first on row {seen[record['sku']]})")
        if problem is not None:
            rejected.append(Rejected(number, *problem))
            continue
        seen[record["sku"]] = number
        point = record.get("reorder_point", "")
        good.append(CatalogRow(number, record["product_sku"], record.get("product_name", ""),
                               record.get("description", ""), record["sku"], record.get("size", ""),
                               record.get("color", ""), record.get("material", ""),
                               int(point) if point else None))
    return good, rejected


def _catalog_problem(record: dict[str, str]) -> tuple[str, str] | None:
    if "__width__" in record:
        return "*", record["__width__"]
    for column in ("product_sku", "sku"):
        value = record[column]
        if not value or len(value) > 100 or not CODE.match(value):
            return column, "1 to 100 letters, digits, '-', '_' or '.' are needed"
    limits = {"product_name": 200, "description": 5000, "size": 40, "color": 40, "material": 40}
    for column, limit in limits.items():
        if len(record.get(column, "")) > limit:
            return column, f"must be at most {limit} characters"
    point = record.get("reorder_point", "")
    if point and _whole(point) is None:
        return "reorder_point", f"must be empty or a whole number from 0 to {MAX_COUNT}, not {point!r}"
    return None


def rejected_csv(rejected: list[Rejected]) -> str:
    return csv_text(["row", "column", "reason"], ((r.row, r.column, r.reason) for r in rejected))
