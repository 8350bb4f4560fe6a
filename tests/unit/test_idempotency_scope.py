"""An Idempotency-Key's scope names its caller and route: another caller's same key is another key."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from service.principals import Principal, Role
from web import api_stock


def request(path: str, key: str) -> Request:
    return Request({"type": "http", "method": "POST", "path": path, "query_string": b"",
                    "headers": [(b"idempotency-key", key.encode())], "server": ("test", 80), "scheme": "http",
                    "principal": Principal("key:sync", Role.CLERK)})  # as BearerAuth leaves it


def test_the_same_key_and_body_from_another_caller_is_another_command(monkeypatch: pytest.MonkeyPatch) -> None:
    body: dict[str, Any] = {"sku": "A", "location": "WH-EAST", "quantity": 1}
    monkeypatch.setattr(api_stock, "actor_of", lambda _request: "alice@api")
    alice = api_stock._Key(request("/api/v1/stock/receipts", "k1"), body)
    monkeypatch.setattr(api_stock, "actor_of", lambda _request: "bob@api")
    bob = api_stock._Key(request("/api/v1/stock/receipts", "k1"), body)
    assert alice.command_id != bob.command_id and alice.body_hash == bob.body_hash


def test_the_same_key_on_another_route_is_another_command() -> None:
    body: dict[str, Any] = {"sku": "A", "location": "WH-EAST", "quantity": 1}
    receipt = api_stock._Key(request("/api/v1/stock/receipts", "k1"), body)
    transfer = api_stock._Key(request("/api/v1/stock/transfers", "k1"), body)
    again = api_stock._Key(request("/api/v1/stock/receipts", "k1"), dict(reversed(list(body.items()))))
    assert receipt.command_id != transfer.command_id
    assert (again.command_id, again.body_hash) == (receipt.command_id, receipt.body_hash)
