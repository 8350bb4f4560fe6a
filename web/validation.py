"""Reading request bodies field by field; every problem names its field. Pure, no web framework.

Text is taken as it is sent, never quietly trimmed: a value that begins or ends with a space (or a
control character) is refused, so the patterns below describe exactly what is accepted and the
OpenAPI document (web/openapi.py) publishes the same ones. The dashboard trims its form fields
itself before they get here (web/dashboard/forms.form_values)."""

from __future__ import annotations

import re
from typing import Any

from web.problems import ApiError, invalid

CODE = re.compile(r"^[A-Za-z0-9_.\-]+$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # notes may hold tabs and line breaks
# What may not open or close a text: control characters and every kind of space, spelled out rather
# than `\s` (regex engines read that differently) and each as a range, since test-data generators
# (Hypothesis's from_regex) refuse a lone non-ASCII character in a class; the OpenAPI document
# carries these patterns.
EDGE = (r"\x00-\x20\x7f-\xa0\u1680-\u1680\u2000-\u200a\u2028-\u2029\u202f-\u202f\u205f-\u205f"
        r"\u3000-\u3000\ufeff-\ufeff")
TEXT_PATTERN = rf"^[^{EDGE}](?:[^\x00-\x1f\x7f]*[^{EDGE}])?$"
LINES_PATTERN = rf"^[^{EDGE}](?:[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*[^{EDGE}])?$"
EDGES = re.compile(rf"^[{EDGE}]|[{EDGE}]$")
QUERY_INTEGER = "^[0-9]+$"
MAX_WHOLE = 10**9  # the largest magnitude of a whole number in a body, unless a field says less


def body_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ApiError(400, "malformed_body", "body: expected a JSON object")
    return data


def text(data: dict[str, Any], field: str, *, required: bool = True, max_length: int = 200,
         pattern: re.Pattern[str] | None = None, default: str | None = None, label: str = "",
         lines: bool = False) -> str:
    """`label` is how the field is named in errors when it sits inside a list (`lines[2].sku`);
    `lines` lets the text hold tabs and line breaks (a note), never other control characters."""
    value = data.get(field)
    field = label or field
    if value is None:
        if required:
            raise invalid(field, "is required")
        return default if default is not None else ""
    if not isinstance(value, str):
        raise invalid(field, "must be a string")
    if not value.strip():
        if required:
            raise invalid(field, "must not be empty")
        if not value:
            return default if default is not None else ""
    if len(value) > max_length:
        raise invalid(field, f"must be at most {max_length} characters")
    if EDGES.search(value):
        raise invalid(field, "must not begin or end with a space or a control character")
    if (CONTROL_BUT_LINES if lines else CONTROL).search(value):
        raise invalid(field, "must not contain control characters")
    if pattern is not None and value and not pattern.match(value):
        raise invalid(field, "may hold only letters, digits, '-', '_' and '.'")
    return value


def optional_text(data: dict[str, Any], field: str, max_length: int = 2000) -> str | None:
    """A note or a reference: may be missing, null or empty (all read as none); tabs and line
    breaks are allowed inside it."""
    if data.get(field) is None:
        return None
    return text(data, field, max_length=max_length, required=False, lines=True) or None


def integer(data: dict[str, Any], field: str, *, minimum: int | None = None, required: bool = True,
            default: int | None = None, maximum: int = MAX_WHOLE, label: str = "") -> int:
    value = data.get(field)
    field = label or field
    if value is None:
        if required or default is None:
            raise invalid(field, "is required")
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 3.0 is the number 3 (JSON, and JSON Schema's "integer", say so)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(field, "must be a whole number")
    if minimum is not None and value < minimum:
        raise invalid(field, f"must be at least {minimum}")
    if abs(value) > maximum:
        raise invalid(field, f"must be at most {maximum}")
    return value


def choice(data: dict[str, Any], field: str, options: tuple[str, ...], default: str | None = None) -> str:
    value = data.get(field, default)
    if value is None:
        raise invalid(field, f"is required (one of {', '.join(options)})")
    if value not in options:
        raise invalid(field, f"must be one of {', '.join(options)}, not {value!r}")
    return str(value)


def items(data: dict[str, Any], field: str, *, max_items: int = 1000) -> list[dict[str, Any]]:
    value = data.get(field)
    if not isinstance(value, list) or not value:
        raise invalid(field, "must be a non-empty list")
    if len(value) > max_items:
        raise invalid(field, f"must have at most {max_items} entries")
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise invalid(f"{field}[{index}]", "must be an object")
    return value


def query_limit(raw: str | None, default: int, maximum: int) -> int:
    """Absent: the default. Present, it must be digits only (`limit=` is not "no limit", and int()'s
    leniency - spaces, '+', '_', other scripts' digits - is not the API's)."""
    if raw is None:
        return default
    if not re.fullmatch(QUERY_INTEGER, raw, flags=re.ASCII):
        raise ApiError(400, "invalid_query", f"limit: {raw[:20]!r} is not a whole number")
    value = int(raw) if len(raw) <= 12 else maximum + 1  # int() refuses thousands of digits
    if not 1 <= value <= maximum:
        raise ApiError(400, "invalid_query", f"limit: must be between 1 and {maximum}")
    return value
