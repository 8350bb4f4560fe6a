"""Plumbing every simulator's HTTP side shares: reading a JSON object body leniently (a partner
answers a bad body with its own error, not a crash), opaque paging tokens, and the error shape of
the `/_sim/*` control surface (ours, not a partner's)."""

from __future__ import annotations

import base64
import json
from typing import Any

from aiohttp import web


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object; {} when it is missing, not JSON, or not an object."""
    try:
        data = await request.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def opaque_token(state: Any) -> str:
    """A paging token the client must hand back unread: URL-safe base64 of a little JSON."""
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode().rstrip("=")


def read_opaque_token(token: str) -> Any:
    """What `opaque_token` packed; ValueError when the client made the token up."""
    padded = token + "=" * (-len(token) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode()))


def whole_number(value: Any, fallback: int) -> int:
    """A query parameter as an int, or `fallback` when it is absent or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return fallback


def control_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
