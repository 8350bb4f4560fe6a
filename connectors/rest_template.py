"""Templates of a `rest` partner's declaration: a request body, an item of it, a path, a query.

A string that is exactly one placeholder ("{quantity}") becomes the value itself, type and all, so
a body can carry numbers and lists; any other string is filled in as text ("/stock/{sku}"). Every
placeholder is checked against the names its place offers when the configuration is read, so a
typo is reported at start, naming its key, and never on the first push."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

_WHOLE = re.compile(r"^\{(\w+)\}$")


class TemplateError(ValueError):
    pass


def placeholders(template: Any) -> Iterator[str]:
    """Every placeholder name in a template (nested mappings and lists included)."""
    if isinstance(template, str):
        for _text, name, _spec, _conv in string.Formatter().parse(template):
            if name is not None:
                yield name
    elif isinstance(template, Mapping):
        for value in template.values():
            yield from placeholders(value)
    elif isinstance(template, list):
        for value in template:
            yield from placeholders(value)


def check(template: Any, offered: tuple[str, ...], where: str) -> None:
    """Refuse a template naming a placeholder its place does not offer, or written badly."""
    try:
        unknown = sorted({name for name in placeholders(template) if name not in offered})
    except ValueError as exc:
        raise TemplateError(f"{where}: {exc} (a literal brace is written twice: {{{{ or }}}})") from None
    if unknown:
        names = ", ".join(f"{{{name}}}" for name in unknown)
        raise TemplateError(f"{where} uses {names}; it may use only "
                            + ", ".join(f"{{{name}}}" for name in offered))


def render(template: Any, values: Mapping[str, Any]) -> Any:
    """The template with the values in. Placeholders were checked when the config was read."""
    if isinstance(template, str):
        whole = _WHOLE.match(template)
        if whole:
            return values[whole.group(1)]
        return template.format_map(values)
    if isinstance(template, Mapping):
        return {key: render(value, values) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, values) for value in template]
    return template


def render_path(template: str, values: Mapping[str, Any]) -> str:
    """A path template; values are quoted, so a SKU with a slash stays one path segment."""
    return template.format_map({key: quote(str(value), safe="") for key, value in values.items()})


def render_query(template: Mapping[str, Any], values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query parameters: a list repeats its parameter; a parameter whose value is None is left out
    (no cursor yet)."""
    found: list[tuple[str, str]] = []
    for name, value in template.items():
        rendered = render(value, values)
        if rendered is None:
            continue
        for item in rendered if isinstance(rendered, list) else [rendered]:
            found.append((str(name), str(item)))
    return found
