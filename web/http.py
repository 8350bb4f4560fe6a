"""Small pieces every API route uses: the runtime, the JSON body, the caller's name, the answer to
a command's result."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request

from service.principals import Principal
from service.runtime import Runtime
from web.body_limit import JSON
from web.problems import ApiError, starting
from web.validation import body_object

T = TypeVar("T")


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    if not rt.ready:
        raise starting()
    return rt


MAX_BODY = JSON  # the same cap BodyLimit holds every /api/ body to, checked here for any caller


async def json_body(request: Request) -> dict[str, Any]:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ApiError(413, "body_too_large", f"body: at most {MAX_BODY} bytes")
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/json":  # what the OpenAPI document says every body is sent as
        raise ApiError(415, "unsupported_media_type",
                       f"Content-Type: must be application/json, not {media_type[:60] or 'missing'!r}")
    raw = bytearray()
    async for chunk in request.stream():
        raw.extend(chunk)
        if len(raw) > MAX_BODY:
            raise ApiError(413, "body_too_large", f"body: at most {MAX_BODY} bytes")
    try:
        return body_object(json.loads(raw, object_pairs_hook=_refuse_duplicate_keys))
    except ValueError:  # JSONDecodeError; UnicodeDecodeError is one too
        raise ApiError(400, "malformed_json", "body: not valid JSON") from None


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Two values for one key are refused, not quietly reduced to the last (parsers disagree on
    which one wins, so a proxy and this service could read different orders from one body)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ApiError(400, "malformed_json", f"body: the key {key!r} appears twice in one object")
        found[key] = value
    return found


def app_state(request: Request, name: str, make: Callable[[], T]) -> T:
    """What the app keeps for all requests under `name`, made at first use (not at import)."""
    state = request.app.state
    if not hasattr(state, name):
        setattr(state, name, make())
    found: T = getattr(state, name)
    return found


def principal_of(request: Request) -> Principal:
    """The caller, as BearerAuth (the API) or the session (the dashboard) found it."""
    found = request.scope.get("principal")
    if not isinstance(found, Principal):
        raise ApiError(401, "unauthorized", "Authorization: a valid 'Bearer <token>' header is required")
    return found


def actor_of(request: Request) -> str:
    """Who the ledger and the audit trail name: the user, `key:<name>` or `admin-token`."""
    return principal_of(request).name
