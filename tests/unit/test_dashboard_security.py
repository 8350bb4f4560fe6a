"""The dashboard's security helpers: passwords, private files, CSRF tokens, safe redirects, form errors."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request

from service.config import load_settings
from store.private_files import private_file
from web.dashboard.forms import GENERAL, FormState, command_id, whole_number
from web.dashboard.login import _next_page
from web.dashboard.session import check_csrf, csrf_token, fresh_session
from web.dashboard.users import admin_password, hash_password, password_matches
from web.problems import ApiError, invalid


def request(session: dict[str, Any], headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": raw, "session": session})


def test_a_password_is_kept_as_an_argon2_hash_that_only_the_password_matches() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2") and "correct horse" not in stored
    assert password_matches(stored, "correct horse")
    assert not password_matches(stored, "Correct horse")
    assert not password_matches("not a hash", "correct horse")


def test_a_generated_secret_is_written_once_readable_only_by_its_owner(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    assert private_file(path, "first") == "first"
    assert private_file(path, "second") == "first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_admin_password_comes_from_the_environment_or_is_generated_into_the_data_folder(tmp_path: Path) -> None:
    given = load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path / "a"), "THREADCOUNT_ADMIN_PASSWORD": "pw"})
    assert admin_password(given) == "pw"
    assert not (tmp_path / "a" / "admin_password").exists()
    generated = load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path / "b")})
    password = admin_password(generated)
    assert len(password) >= 20
    assert (tmp_path / "b" / "admin_password").read_text().strip() == password
    assert admin_password(generated) == password


async def test_a_post_with_the_sessions_token_in_the_form_or_header_passes() -> None:
    session: dict[str, Any] = {}
    token = csrf_token(request(session))
    await check_csrf(request(session), {"csrf_token": token})
    await check_csrf(request(session, {"X-CSRF-Token": token}), None)


@pytest.mark.parametrize("form", [{}, {"csrf_token": ""}, {"csrf_token": "forged"}])
async def test_a_post_without_the_sessions_token_is_refused_with_403(form: dict[str, str]) -> None:
    session: dict[str, Any] = {}
    csrf_token(request(session))
    with pytest.raises(HTTPException) as refused:
        await check_csrf(request(session), form)
    assert refused.value.status_code == 403


async def test_a_session_without_a_token_refuses_every_post() -> None:
    with pytest.raises(HTTPException):
        await check_csrf(request({}), {"csrf_token": ""})


def test_logging_in_starts_a_new_cookie_holding_only_the_session_id_and_a_new_token() -> None:
    session: dict[str, Any] = {"csrf_token": "planted", "other": 1}
    fresh_session(request(session), "the-session-id")
    assert session["sid"] == "the-session-id" and session["csrf_token"] != "planted"
    assert set(session) == {"sid", "csrf_token"}


@pytest.mark.parametrize("target, expected", [
    ("/orders?status=reserved", "/orders?status=reserved"), ("", "/stock"), ("https://evil.example/", "/stock"),
    ("//evil.example/", "/stock"), ("/\\evil.example", "/stock"),
])
def test_after_login_only_a_path_on_this_site_is_followed(target: str, expected: str) -> None:
    assert _next_page(target) == expected


def test_form_errors_land_beside_their_field_or_as_the_forms_general_error() -> None:
    state = FormState(values={"quantity": "x", "location": "WH"})
    state.fail(invalid("delta", "must not be 0"), {"delta": "quantity"})
    assert state.errors == {"quantity": "must not be 0"} and state.status == 422
    other = FormState(values={"quantity": "1"}).fail(ApiError(409, "conflict", "order 7: is fulfilled"))
    assert other.errors == {GENERAL: "order 7: is fulfilled"} and other.status == 409


def test_form_numbers_are_whole_and_each_form_keeps_its_command_id() -> None:
    assert whole_number({"quantity": " -3 "}, "quantity") == -3
    with pytest.raises(ApiError, match="quantity: must be a whole number"):
        whole_number({"quantity": "2.5"}, "quantity")
    assert whole_number({"quantity": ""}, "quantity", required=False) is None
    assert command_id({"command_id": "a" * 32}) == "dash:" + "a" * 32
    assert command_id({"command_id": "../../x"}).startswith("dash-")
