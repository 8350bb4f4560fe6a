"""The admin's /users page: users (create; change role, reset password, disable or enable) and API
keys (create, shown once; revoke), through the same use cases as the REST API (service/accounts.py).
Only an admin reaches it (web/roles.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from service.accounts import Taken
from service.principals import ORDER
from web import account_input
from web.dashboard.forms import FormState, form_values
from web.dashboard.session import accounts_of, check_csrf, current_user, render
from web.http import runtime
from web.problems import ApiError, not_found, taken

USER_FIELDS = ("username", "password", "role", "email", "phone")
KEY_FIELDS = ("name", "role")
ROLES = [role.value for role in ORDER]


async def _page(request: Request, *, user_form: FormState | None = None, key_form: FormState | None = None,
                new_key: dict[str, Any] | None = None, notice: str = "", error: str = "",
                status: int = 200) -> Response:
    accounts = accounts_of(request)
    context = {"users": await accounts.users(), "keys": await accounts.keys(), "roles": ROLES,
               "user_form": user_form or FormState(values={"role": "viewer"}),
               "key_form": key_form or FormState(values={"role": "viewer"}),
               "new_key": new_key, "notice": notice or request.query_params.get("done", "")[:200],
               "error": error}
    return render(request, "users.html", context, status=status)


async def users_page(request: Request) -> Response:
    runtime(request)
    return await _page(request)


async def create_user(request: Request) -> Response:
    form = await request.form()
    await check_csrf(request, form)
    runtime(request)
    state = FormState(values=form_values(form, USER_FIELDS))
    try:
        given = account_input.new_user({k: v for k, v in state.values.items() if v or k in USER_FIELDS[:3]})
        await accounts_of(request).create_user(given.username, given.password, given.role, given.email,
                                               given.phone, await current_user(request) or "")
    except Taken as exc:
        return await _page(request, user_form=state.fail(taken(str(exc))),
                           status=409)
    except ApiError as exc:
        return await _page(request, user_form=state.fail(exc), status=exc.status)
    return RedirectResponse(f"/users?done=User+{given.username}+created", status_code=303)


async def change_user(request: Request) -> Response:
    """One change per form: `action` is role, password, disable or enable."""
    form = await request.form()
    await check_csrf(request, form)
    runtime(request)
    username = request.path_params["username"]
    values = form_values(form, ("action", "role", "password"))
    action = values["action"]
    by_action: dict[str, dict[str, Any]] = {
        "role": {"role": values["role"]}, "password": {"password": values["password"]},
        "disable": {"disabled": True}, "enable": {"disabled": False},
    }
    data = by_action.get(action, {})
    if not data:
        return await _page(request, error=f"action: no user action {action!r}", status=422)
    try:
        changes = account_input.user_changes(data)
    except ApiError as exc:
        return await _page(request, error=f"{username}: {exc.message}", status=exc.status)
    changed = await accounts_of(request).update_user(
        username, await current_user(request) or "", role=changes.role, password=changes.password,
        disabled=changes.disabled)
    if changed is None:
        raise not_found(f"username: no user {username!r}")
    return RedirectResponse(f"/users?done={username}:+{action}+done", status_code=303)


async def create_key(request: Request) -> Response:
    form = await request.form()
    await check_csrf(request, form)
    runtime(request)
    state = FormState(values=form_values(form, KEY_FIELDS))
    try:
        name, role = account_input.new_key(dict(state.values))
        created = await accounts_of(request).create_key(name, role, await current_user(request) or "")
    except Taken as exc:
        return await _page(request, key_form=state.fail(taken(str(exc))), status=409)
    except ApiError as exc:
        return await _page(request, key_form=state.fail(exc), status=exc.status)
    # shown once, in this answer (not after a redirect, which would need it kept somewhere)
    return await _page(request, new_key=created, status=201)


async def revoke_key(request: Request) -> Response:
    await check_csrf(request, await request.form())
    runtime(request)
    key_id: int = request.path_params["id"]
    if not await accounts_of(request).revoke_key(key_id, await current_user(request) or ""):
        raise not_found(f"id: no API key {key_id}")
    return RedirectResponse(f"/users?done=API+key+{key_id}+revoked", status_code=303)


routes = [
    Route("/users", users_page, methods=["GET"]),
    Route("/users", create_user, methods=["POST"]),
    Route("/users/{username}", change_user, methods=["POST"]),
    Route("/keys", create_key, methods=["POST"]),
    Route("/keys/{id:int}/revoke", revoke_key, methods=["POST"]),
]
