"""Small pieces every API route uses: the runtime, the JSON body, the caller's name, the answer to
a command's result."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from service.runtime import Runtime
from web.problems import ApiError, starting
from web.validation import body_object


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    if not rt.ready:
        raise starting()
    return rt


MAX_BODY = 1024 * 1024  # bytes; an order of 100 lines is a few kilobytes


async def json_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, "body_too_large", f"body: at most {MAX_BODY} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY:
            raise ApiError(413, "body_too_large", f"body: at most {MAX_BODY} bytes")
    try:
        return body_object(orjson.loads(raw))
    except orjson.JSONDecodeError:
        raise ApiError(400, "malformed_json", "body: not valid JSON") from None


def actor_of(request: Request) -> str:
    """Who the ledger and the audit trail name for an API call: the one admin key, for now."""
    return "admin@api"
