"""Users and API keys over REST (admin only, as web/roles.py declares). No answer carries a password
or its hash; a key is shown once, in the answer that made it."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from service.accounts import Accounts, Taken
from store.queries import iso
from web import account_input
from web.http import actor_of, json_body, runtime
from web.problems import not_found, taken
from web.responses import JSONResponse


def accounts(request: Request) -> Accounts:
    runtime(request)  # 503 while starting
    found: Accounts = request.app.state.accounts
    return found


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """Times as ISO text, like the rest of the API."""
    return {name: (iso(value) if name.endswith("_at") and value is not None else value)
            for name, value in row.items()}


async def create_user(request: Request) -> JSONResponse:
    given = account_input.new_user(await json_body(request))
    try:
        created = await accounts(request).create_user(given.username, given.password, given.role, given.email,
                                                      given.phone, actor_of(request))
    except Taken as exc:
        raise taken(str(exc)) from None
    return JSONResponse(shown(created), status_code=201)


async def list_users(request: Request) -> JSONResponse:
    return JSONResponse([shown(row) for row in await accounts(request).users()])


async def update_user(request: Request) -> JSONResponse:
    changes = account_input.user_changes(await json_body(request))
    username = request.path_params["username"]
    changed = await accounts(request).update_user(
        username, actor_of(request), role=changes.role, password=changes.password, email=changes.email,
        phone=changes.phone, disabled=changes.disabled)
    if changed is None:
        raise not_found(f"username: no user {username!r}")
    return JSONResponse(shown(changed))


async def create_key(request: Request) -> JSONResponse:
    name, role = account_input.new_key(await json_body(request))
    try:
        created = await accounts(request).create_key(name, role, actor_of(request))
    except Taken as exc:
        raise taken(str(exc)) from None
    return JSONResponse({name: created[name] for name in ("id", "name", "role", "key")}, status_code=201)


async def list_keys(request: Request) -> JSONResponse:
    return JSONResponse([shown(row) for row in await accounts(request).keys()])


async def revoke_key(request: Request) -> Response:
    key_id = account_input.key_id(request.path_params["id"])
    if not await accounts(request).revoke_key(key_id, actor_of(request)):
        raise not_found(f"id: no API key {key_id}")
    return Response(status_code=204)


routes = [
    Route("/api/v1/users", create_user, methods=["POST"]),
    Route("/api/v1/users", list_users, methods=["GET"]),
    Route("/api/v1/users/{username}", update_user, methods=["PATCH"]),
    Route("/api/v1/api-keys", create_key, methods=["POST"]),
    Route("/api/v1/api-keys", list_keys, methods=["GET"]),
    Route("/api/v1/api-keys/{id}", revoke_key, methods=["DELETE"]),
]
