"""What a `rest` partner's `options` declare, read and checked once, when the configuration is.

Every problem is a RestConfigError naming the key (`partners.boutique.options.orders.sku`), so a
merchant's typo stops the start with a sentence, not the first poll with a traceback. JMESPath
expressions are compiled here: a bad one is a config error too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from connectors.rest_template import TemplateError, check

AUTH_TYPES = ("api_key", "bearer", "oauth2_client_credentials")
CURSOR_KINDS = ("page_token", "timestamp")
EVENT_KINDS = ("created", "shipped", "cancelled", "sale")
METHODS = ("POST", "PUT", "PATCH")
ITEM_NAMES = ("sku", "quantity")
BODY_NAMES = ("items", "item", "now")   # item: the first (with batch_size 1, the only) one
ORDER_QUERY_NAMES = ("cursor", "page_size")


class RestConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Auth:
    type: str
    header: str = "Authorization"
    credential: str = "api_key"      # the credentials key holding the key or token
    token_path: str = "/oauth/token"
    scope: str = ""


@dataclass(frozen=True, slots=True)
class Push:
    method: str
    path: str
    body: Any
    item: Any
    batch_size: int
    rejected: ParsedResult | None   # SKUs the answer says were refused


@dataclass(frozen=True, slots=True)
class ListingsRead:
    path: str
    params: Mapping[str, Any]
    items: ParsedResult
    sku: ParsedResult
    quantity: ParsedResult


@dataclass(frozen=True, slots=True)
class Cursor:
    kind: str
    param: str
    next: ParsedResult
    lookback_s: float = 3600.0   # a timestamp cursor's first poll reaches back this far
    unix: bool = False           # a timestamp cursor sent as unix seconds rather than ISO 8601


@dataclass(frozen=True, slots=True)
class OrdersPoll:
    path: str
    params: Mapping[str, Any]
    cursor: Cursor
    orders: ParsedResult
    id: ParsedResult
    status: ParsedResult
    lines: ParsedResult
    sku: ParsedResult
    quantity: ParsedResult
    statuses: Mapping[str, str]          # the partner's status -> our event kind
    more: ParsedResult | None = None


@dataclass(frozen=True, slots=True)
class Declaration:
    auth: Auth
    push: Push
    orders: OrdersPoll
    listings: ListingsRead | None
    rate: float
    burst: float
    retry_statuses: tuple[int, ...]
    retry_attempts: int
    retry_backoff_s: float
    headers: Mapping[str, str] = field(default_factory=dict)


def declaration(options: Mapping[str, Any], where: str) -> Declaration:
    try:
        return _declaration(_Reader(options, where))
    except TemplateError as exc:
        raise RestConfigError(str(exc)) from None


def _declaration(read: _Reader) -> Declaration:
    limits, retry = read.part("limits", required=False), read.part("retry", required=False)
    return Declaration(
        auth=_auth(read.part("auth")),
        push=_push(read.part("push")),
        orders=_orders(read.part("orders")),
        listings=_listings(read.part("listings")) if "listings" in read.raw else None,
        rate=limits.number("rate", 5.0), burst=limits.number("burst", 10.0),
        retry_statuses=tuple(retry.statuses("statuses", (500, 502, 503, 504))),
        retry_attempts=int(retry.number("attempts", 3)),
        retry_backoff_s=retry.number("backoff_s", 0.5),
        headers={str(k): str(v) for k, v in read.part("headers", required=False).raw.items()},
    )


def _auth(read: _Reader) -> Auth:
    kind = read.choice("type", AUTH_TYPES)
    default_header = "X-Api-Key" if kind == "api_key" else "Authorization"
    default_credential = {"api_key": "api_key", "bearer": "token"}.get(kind, "client_secret")
    return Auth(kind, read.text("header", default_header), read.text("credential", default_credential),
                read.text("token_path", "/oauth/token"), read.text("scope", ""))


def _push(read: _Reader) -> Push:
    body = read.raw.get("body", "{items}")
    item = read.raw.get("item", {"sku": "{sku}", "quantity": "{quantity}"})
    check(body, BODY_NAMES, f"{read.where}.body")
    check(item, ITEM_NAMES, f"{read.where}.item")
    path = read.text("path")
    check(path, ITEM_NAMES, f"{read.where}.path")
    batch = int(read.number("batch_size", 50))
    if "{" in path and batch != 1:
        raise RestConfigError(f"{read.where}.batch_size must be 1 when {read.where}.path names an item")
    return Push(read.choice("method", METHODS, "POST"), path, body, item, batch,
                read.expression("rejected", required=False))


def _listings(read: _Reader) -> ListingsRead:
    params = read.part("params", required=False).raw
    check(dict(params), ("skus",), f"{read.where}.params")
    return ListingsRead(read.text("path"), params, read.expression("items"), read.expression("sku"),
                        read.expression("quantity"))


def _orders(read: _Reader) -> OrdersPoll:
    params = read.part("params", required=False).raw
    check(dict(params), ORDER_QUERY_NAMES, f"{read.where}.params")
    cursor = read.part("cursor")
    kind = cursor.choice("kind", CURSOR_KINDS)
    statuses = read.part("statuses")
    by_status: dict[str, str] = {}
    for event_kind, names in statuses.raw.items():
        if event_kind not in EVENT_KINDS:
            raise RestConfigError(f"{statuses.where}.{event_kind} is not one of {', '.join(EVENT_KINDS)}")
        for name in names if isinstance(names, list) else [names]:
            by_status[str(name)] = str(event_kind)
    return OrdersPoll(
        path=read.text("path"), params=params,
        cursor=Cursor(kind, cursor.text("param"), cursor.expression("next"),
                      cursor.number("lookback_s", 3600.0), cursor.raw.get("format", "iso") == "unix"),
        orders=read.expression("orders"), id=read.expression("id"), status=read.expression("status"),
        lines=read.expression("lines"), sku=read.expression("sku"), quantity=read.expression("quantity"),
        statuses=by_status, more=read.expression("more", required=False),
    )


class _Reader:
    """One mapping of the declaration, and where it sits, for errors that name the key."""

    def __init__(self, raw: Any, where: str):
        if not isinstance(raw, Mapping):
            raise RestConfigError(f"{where} must be a mapping, not {raw!r}")
        self.raw, self.where = raw, where

    def part(self, key: str, required: bool = True) -> _Reader:
        if key not in self.raw and required:
            raise RestConfigError(f"{self.where}.{key} is required")
        return _Reader(self.raw.get(key) or {}, f"{self.where}.{key}")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.raw.get(key, default)
        if not isinstance(value, str) or (default is None and not value):
            raise RestConfigError(f"{self.where}.{key} is required (text)" if value is None
                                  else f"{self.where}.{key} must be text, not {value!r}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = self.text(key, default)
        if value.upper() in allowed:
            return value.upper()
        if value not in allowed:
            raise RestConfigError(f"{self.where}.{key} must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def number(self, key: str, default: float) -> float:
        value = self.raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise RestConfigError(f"{self.where}.{key} must be a number above 0, not {value!r}")
        return float(value)

    def statuses(self, key: str, default: tuple[int, ...]) -> list[int]:
        value = self.raw.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(s, int) and 400 <= s <= 599 for s in value):
            raise RestConfigError(f"{self.where}.{key} must be a list of HTTP statuses (400-599)")
        return value

    def expression(self, key: str, required: bool = True) -> Any:
        value = self.raw.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise RestConfigError(f"{self.where}.{key} is required (a JMESPath expression)")
        try:
            return jmespath.compile(value)
        except JMESPathError as exc:
            raise RestConfigError(f"{self.where}.{key}: {value!r} is not JMESPath: {exc}") from None
