"""Logging in and out of the dashboard: a disabled user cannot log in; logging out deletes the
session in the store, so the old cookie opens nothing."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from web.dashboard.session import accounts_of, check_csrf, current_user, log_in, log_out, render
from web.dashboard.throttle import LoginThrottle
from web.dashboard.users import ensure_admin
from web.http import app_state, runtime

SMALL_FORM = {"max_files": 0, "max_fields": 8, "max_part_size": 4096}  # login and logout: a few short fields


def _next_page(raw: str | None) -> str:
    # only a path on this site: an absolute or scheme-relative URL would make login an open redirect
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/stock"


async def login_page(request: Request) -> Response:
    if await current_user(request):
        return RedirectResponse(_next_page(request.query_params.get("next")), status_code=303)
    return render(request, "login.html", {"next": request.query_params.get("next", ""), "error": ""})


async def login(request: Request) -> Response:
    form = await request.form(**SMALL_FORM)
    await check_csrf(request, form)
    rt = runtime(request)
    if not request.app.state.admin_synced:
        await ensure_admin(rt.engine, request.app.state.admin_password)
        request.app.state.admin_synced = True
    username = str(form.get("username") or "").strip()[:200]
    password = str(form.get("password") or "")
    target = str(form.get("next") or "")
    address = request.client.host if request.client else "unknown"
    throttle: LoginThrottle = app_state(request, "login_throttle", LoginThrottle)
    wait = throttle.retry_after(username, address)
    if wait:
        context = {"next": target, "username": username,
                   "error": f"too many failed logins: try again in {wait} seconds"}
        return render(request, "login.html", context, status=429, headers={"Retry-After": str(wait)})
    if not username or not password or not await accounts_of(request).authenticate(username, password):
        throttle.failed(username, address)
        context = {"next": target, "username": username, "error": "username or password: not recognised"}
        return render(request, "login.html", context, status=401)
    await log_in(request, username)
    return RedirectResponse(_next_page(target), status_code=303)


async def logout(request: Request) -> Response:
    await check_csrf(request, await request.form(**SMALL_FORM))
    await log_out(request)
    return RedirectResponse("/login", status_code=303)


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
