"""Reading request bodies field by field; every problem names its field. Pure, no web framework."""

from __future__ import annotations

import re
from typing import Any

from web.problems import ApiError, invalid

CODE = re.compile(r"^[A-Za-z0-9_.\-]+$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # notes may hold tabs and line breaks


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
    value = value.strip()
    if required and not value:
        raise invalid(field, "must not be empty")
    if len(value) > max_length:
        raise invalid(field, f"must be at most {max_length} characters")
    if (CONTROL_BUT_LINES if lines else CONTROL).search(value):
        raise invalid(field, "must not contain control characters")
    if pattern is not None and value and not pattern.match(value):
        raise invalid(field, "may hold only letters, digits, '-', '_' and '.'")
    return value


def optional_text(data: dict[str, Any], field: str, max_length: int = 2000) -> str | None:
    if data.get(field) is None:
        return None
    return text(data, field, max_length=max_length, required=False, lines=True)


def integer(data: dict[str, Any], field: str, *, minimum: int | None = None, required: bool = True,
            default: int | None = None, maximum: int = 10**9, label: str = "") -> int:
    value = data.get(field)
    field = label or field
    if value is None:
        if required or default is None:
            raise invalid(field, "is required")
        return default
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
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_query", f"limit: {raw!r} is not a whole number") from None
    if not 1 <= value <= maximum:
        raise ApiError(400, "invalid_query", f"limit: must be between 1 and {maximum}")
    return value
