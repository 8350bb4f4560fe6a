"""Dashboard forms: their values as the REST validators expect them, and their errors by field, so a
form comes back with each problem beside its field (and a 4xx status)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from web.problems import ApiError, invalid

FIELD_PROBLEM = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$", re.DOTALL)
GENERAL = "_form"  # errors that belong to no one field


@dataclass
class FormState:
    """A form as rendered: the values to show again, errors by field, and what just happened."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notice: str = ""
    status: int = 200

    def fail(self, exc: ApiError, aliases: Mapping[str, str] | None = None) -> FormState:
        """Show the error beside its field: `aliases` maps the API's field names to the form's."""
        self.errors.update(errors_of(exc, self.values.keys(), aliases or {}))
        self.status = exc.status
        return self


def errors_of(exc: ApiError, fields: Iterable[str], aliases: Mapping[str, str]) -> dict[str, str]:
    """"quantity: must be at least 1" -> {"quantity": "must be at least 1"} when the form has that
    field; anything else is the form's general error, word for word."""
    found = FIELD_PROBLEM.match(exc.message)
    if found:
        name = aliases.get(found.group(1), found.group(1))
        if name in set(fields):
            return {name: found.group(2)}
    return {GENERAL: exc.message}


def form_values(form: Mapping[str, Any], fields: Iterable[str]) -> dict[str, str]:
    return {name: str(form.get(name) or "").strip() for name in fields}


def whole_number(values: Mapping[str, str], name: str, *, required: bool = True) -> int | None:
    """A form's text as the integer the REST validators take (so they name the same problems)."""
    raw = values.get(name, "").strip()
    if not raw:
        if required:
            raise invalid(name, "is required")
        return None
    if not re.fullmatch(r"[+-]?\d{1,10}", raw):
        raise invalid(name, f"must be a whole number, not {raw[:20]!r}")
    return int(raw)


def command_id(values: Mapping[str, str]) -> str:
    """The form's own id (a hidden field made when it was rendered): submitting the same form twice
    applies it once, since the shards remember command ids."""
    given = values.get("command_id", "")
    if re.fullmatch(r"[0-9a-f]{32}", given):
        return f"dash:{given}"
    return f"dash-{uuid.uuid4().hex}"


def new_command_id() -> str:
    return uuid.uuid4().hex
