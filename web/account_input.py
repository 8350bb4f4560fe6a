"""Reading users and API keys from a body or a form, for the REST API and the dashboard alike; every
problem names its field. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from service.principals import ORDER, Role
from web.problems import ApiError, invalid
from web.validation import EDGE, text

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@\-]*$")
KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
# no space, control or other edge character anywhere in an address (the OpenAPI document says the same)
EMAIL = re.compile(rf"^[^@{EDGE}]+@[^@{EDGE}]+\.[^@{EDGE}]+$")
PHONE = re.compile(r"^\+?[0-9()\-.][0-9 ()\-.]{1,37}[0-9()\-.]$")  # 3 to 39 signs; spaces inside only
RESERVED = {"admin-token"}  # the name the environment's token writes into the ledger
MIN_PASSWORD = 8
MAX_PASSWORD = 200
ROLE_NAMES = ", ".join(role.value for role in ORDER)


@dataclass(frozen=True)
class NewUser:
    username: str
    password: str
    role: Role
    email: str | None
    phone: str | None


@dataclass(frozen=True)
class UserChanges:
    role: Role | None = None
    password: str | None = None
    email: str | None = None
    phone: str | None = None
    disabled: bool | None = None


def new_user(data: dict[str, Any]) -> NewUser:
    username = text(data, "username", max_length=100)
    if not USERNAME.match(username):
        raise invalid("username", "may hold only letters, digits, '.', '_', '-' and '@', starting with "
                                  "a letter or digit")
    if username.lower() in RESERVED:
        raise invalid("username", f"{username!r} is reserved")
    password = _password(data)
    if password is None:
        raise invalid("password", "is required")
    return NewUser(username, password, _role(data, required=True) or Role.VIEWER, _email(data), _phone(data))


def user_changes(data: dict[str, Any]) -> UserChanges:
    known = {"role", "password", "email", "phone", "disabled"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise invalid(unknown[0], f"is not a field of a user (send any of {', '.join(sorted(known))})")
    disabled = data.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise invalid("disabled", "must be true or false")
    return UserChanges(_role(data, required=False), _password(data), _email(data), _phone(data), disabled)


def new_key(data: dict[str, Any]) -> tuple[str, Role]:
    name = text(data, "name", max_length=100, pattern=KEY_NAME)
    return name, _role(data, required=True) or Role.VIEWER


def _role(data: dict[str, Any], required: bool) -> Role | None:
    raw = data.get("role")
    if raw is None and not required:
        return None
    role = Role.parse(raw)
    if role is None:
        raise invalid("role", f"must be one of {ROLE_NAMES}, not {raw!r}" if raw is not None else
                      f"is required (one of {ROLE_NAMES})")
    return role


def _password(data: dict[str, Any]) -> str | None:
    raw = data.get("password")
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise invalid("password", "must be a string")
    if len(raw) < MIN_PASSWORD:
        raise invalid("password", f"must be at least {MIN_PASSWORD} characters")
    if len(raw) > MAX_PASSWORD:
        raise invalid("password", f"must be at most {MAX_PASSWORD} characters")
    return raw


def _email(data: dict[str, Any]) -> str | None:
    value = text(data, "email", required=False, max_length=200) if data.get("email") is not None else None
    if value and not EMAIL.match(value):
        raise invalid("email", f"{value!r} is not an e-mail address")
    return value


def _phone(data: dict[str, Any]) -> str | None:
    value = text(data, "phone", required=False, max_length=40) if data.get("phone") is not None else None
    if value and not PHONE.match(value):
        raise invalid("phone", "may hold only digits, spaces, '+', '-', '.', '(' and ')'")
    return value


def key_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise ApiError(404, "not_found", f"id: no API key {raw[:40]!r}")
    return int(raw)
