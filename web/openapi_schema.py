"""Small builders of JSON Schema pieces for the OpenAPI description (web/openapi.py)."""

from __future__ import annotations

from typing import Any

from web.validation import LINES_PATTERN, MAX_WHOLE, TEXT_PATTERN

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def string(description: str | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def integer(minimum: int | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "integer", **extra}
    if minimum is not None:
        schema["minimum"] = minimum
    return schema


def number(description: str | None = None, **extra: Any) -> Schema:
    schema: Schema = {"type": "number", **extra}
    if description:
        schema["description"] = description
    return schema


def nullable(schema: Schema) -> Schema:
    return {**schema, "type": [schema["type"], "null"]}


def enum(values: list[str], description: str | None = None) -> Schema:
    return string(description, enum=values)


def array(items: Schema, **extra: Any) -> Schema:
    return {"type": "array", "items": items, **extra}


def obj(properties: dict[str, Schema], optional: tuple[str, ...] = (), **extra: Any) -> Schema:
    """An object whose properties are all required except those named in `optional`."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "properties": properties, "required": required, **extra}


def date_time() -> Schema:
    return string(format="date-time")


# ------------------------------------------------------- request fields, as web/validation reads them

def text(max_length: int, description: str | None = None, *, lines: bool = False,
         pattern: str | None = None) -> Schema:
    """A required text (validation.text): not empty, at most `max_length` characters, no control
    characters (a note may hold tabs and line breaks), and no space or control character at either
    end - the API does not trim; `pattern` replaces that rule for codes and SKUs."""
    rule = pattern or (LINES_PATTERN if lines else TEXT_PATTERN)
    return string(description, minLength=1, maxLength=max_length, pattern=rule)


def optional_text(max_length: int, description: str | None = None, *, lines: bool = False) -> Schema:
    """An optional text: missing, null or "" all mean none; otherwise as `text`."""
    rule = (LINES_PATTERN if lines else TEXT_PATTERN).removeprefix("^").removesuffix("$")
    return string(description, type=["string", "null"], maxLength=max_length, pattern=f"^(?:{rule})?$")


def whole(minimum: int = -MAX_WHOLE, maximum: int = MAX_WHOLE, *, optional: bool = False,
          **extra: Any) -> Schema:
    """A JSON integer within validation.integer's bounds; `optional`: null means absent."""
    schema = integer(minimum, maximum=maximum, **extra)
    return nullable(schema) if optional else schema


def boolean() -> Schema:
    return {"type": "boolean"}
