"""The API's error shape written straight to an ASGI `send`, for middleware that answers before any
route runs (a body over its cap, a stalled body, a missing bearer token)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import Send


async def send_error(send: Send, status: int, code: str, message: str,
                     headers: Iterable[tuple[bytes, bytes]] = ((b"connection", b"close"),)) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})
