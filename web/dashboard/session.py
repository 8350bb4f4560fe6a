"""Who is logged in, the CSRF token of their session, and rendering a page or one of its blocks.

Sessions are kept in the store (the `sessions` table, by the hash of their id): the signed cookie
(HttpOnly, SameSite=Lax) holds only the session id and the CSRF token, and every request asks the
store (service/accounts.py: believed for at most a second, forgotten at once in this process on a
logout, a password change or a disable) whether the session still stands and whose it is. The CSRF
token lives in the cookie: every form carries it as the hidden input `csrf_token`, every htmx
request as the `X-CSRF-Token` header (set once with hx-headers on <body>)."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

from jinja2 import Environment
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.accounts import Accounts, digest
from service.principals import Principal, Role

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
Handler = Callable[[Request], Awaitable[Response]]


SESSION_ID = "sid"


def accounts_of(request: Request) -> Accounts:
    found: Accounts = request.app.state.accounts
    return found


async def current_principal(request: Request) -> Principal | None:
    """The caller: set by BearerAuth for the API; for the dashboard, the session's user while the
    session stands (not logged out, not expired, the user's password unchanged, not disabled)."""
    found = request.scope.get("principal")
    if isinstance(found, Principal):
        return found
    if "session" not in request.scope or not request.app.state.runtime.ready:
        return None
    session_id = request.session.get(SESSION_ID)
    if not isinstance(session_id, str) or not session_id:
        return None
    who = await accounts_of(request).session_principal(session_id)
    if who is None:
        request.session.pop(SESSION_ID, None)
        return None
    request.scope["principal"] = who
    return who


def session_key(request: Request) -> str:
    """The request's session as the store knows it (its id's hash), "" when it has none."""
    session_id = request.session.get(SESSION_ID) if "session" in request.scope else None
    return digest(session_id) if isinstance(session_id, str) and session_id else ""


async def current_user(request: Request) -> str | None:
    who = await current_principal(request)
    return None if who is None else who.name


def fresh_session(request: Request, session_id: str) -> None:
    """A fresh cookie (and CSRF token) at login, so a token planted before it is worthless."""
    request.session.clear()
    request.session[SESSION_ID] = session_id
    request.session[CSRF_FIELD] = secrets.token_urlsafe(32)


async def log_in(request: Request, username: str) -> None:
    fresh_session(request, await accounts_of(request).start_session(username))


async def log_out(request: Request) -> None:
    """The session's row is deleted: the cookie, kept or copied, opens nothing any more."""
    session_id = request.session.get(SESSION_ID)
    if isinstance(session_id, str) and session_id and request.app.state.runtime.ready:
        await accounts_of(request).end_session(session_id)
    request.session.clear()
    request.scope.pop("principal", None)


def require_user(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        if await current_user(request) is None:
            return login_redirect(request)
        return await handler(request)

    return guarded


async def to_login(request: Request) -> Response:
    return login_redirect(request)


def login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/login?next={quote(target, safe='')}"
    if request.headers.get("hx-request"):
        # htmx would swap the login page into a fragment; make it navigate instead
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def csrf_token(request: Request) -> str:
    """The session's token, made on first use (the login form needs one before anyone logs in)."""
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


async def check_csrf(request: Request, form: FormData | Mapping[str, Any] | None = None) -> None:
    expected = request.session.get(CSRF_FIELD) if "session" in request.scope else None
    given = request.headers.get(CSRF_HEADER) or (form.get(CSRF_FIELD) if form is not None else None)
    if not isinstance(expected, str) or not isinstance(given, str) or not hmac.compare_digest(
        given.encode(), expected.encode()
    ):
        raise HTTPException(403, "csrf_token: missing or not valid for this session; reload the page")


def environment(request: Request) -> Environment:
    env: Environment = request.app.state.templates
    return env


def render(request: Request, template: str, context: Mapping[str, Any] | None = None, status: int = 200,
           block: str | None = None, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """The whole page, or only `block` of it: the fragment htmx swaps in is the page's own markup.
    A block rendered alone runs none of the template's top-level code: import macros inside it."""
    page = environment(request).get_template(template)
    who = request.scope.get("principal")
    who = who if isinstance(who, Principal) else None
    values = {
        "request": request,
        "user": None if who is None else who.name,
        "role": None if who is None else who.role.value,
        "can": lambda needed: who is not None and who.may(Role(needed)),
        "csrf_token": csrf_token(request) if "session" in request.scope else "",
        **(context or {}),
    }
    if block is None:
        return HTMLResponse(page.render(values), status_code=status, headers=dict(headers or {}))
    html = "".join(page.blocks[block](page.new_context(values)))
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))
