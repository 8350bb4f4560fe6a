"""TLS settings: both PEM files or neither, each readable, loaded at start; HSTS and the Secure cookie
only with TLS on."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from service.config import ConfigError, load_settings
from service.tls import server_context, tls_on
from tests.harness.certificates import self_signed
from web.dashboard.sessions_asgi import DashboardSessions
from web.security_headers import SecurityHeaders


def settings(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    return load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path / "data"), **env})


def test_without_a_certificate_and_key_tls_is_off(tmp_path: Path) -> None:
    found = settings(tmp_path)
    assert not tls_on(found) and server_context(found) is None


def test_a_certificate_and_its_key_turn_tls_on_with_a_loadable_context(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    found = settings(tmp_path, THREADCOUNT_TLS_CERT=str(cert), THREADCOUNT_TLS_KEY=str(key))
    assert tls_on(found) and (found.tls_cert, found.tls_key) == (cert, key)
    context = server_context(found)
    assert isinstance(context, ssl.SSLContext) and context.minimum_version == ssl.TLSVersion.TLSv1_2


def test_the_files_can_come_from_config_yaml_relative_to_it(tmp_path: Path) -> None:
    self_signed(tmp_path)
    config = tmp_path / "config.yaml"
    config.write_text("web:\n  tls_cert: cert.pem\n  tls_key: key.pem\n")
    found = load_settings(config, {})
    assert found.tls_cert == tmp_path / "cert.pem" and found.tls_key == tmp_path / "key.pem"


@pytest.mark.parametrize(("given", "named"), [("THREADCOUNT_TLS_CERT", "THREADCOUNT_TLS_KEY"),
                                              ("THREADCOUNT_TLS_KEY", "THREADCOUNT_TLS_CERT")])
def test_one_tls_file_without_the_other_is_refused_naming_the_missing_variable(
    tmp_path: Path, given: str, named: str
) -> None:
    cert, _ = self_signed(tmp_path)
    with pytest.raises(ConfigError, match=f"{given} is set but {named} is not"):
        settings(tmp_path, **{given: str(cert)})


def test_an_unreadable_tls_file_is_refused_naming_its_variable(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    with pytest.raises(ConfigError, match=r"THREADCOUNT_TLS_KEY: cannot read .*nope.pem"):
        settings(tmp_path, THREADCOUNT_TLS_CERT=str(cert), THREADCOUNT_TLS_KEY=str(tmp_path / "nope.pem"))


def test_a_key_that_is_not_the_certificates_is_refused_at_start(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    (tmp_path / "other").mkdir()
    _, other_key = self_signed(tmp_path / "other")
    found = settings(tmp_path, THREADCOUNT_TLS_CERT=str(cert), THREADCOUNT_TLS_KEY=str(other_key))
    with pytest.raises(ConfigError, match=r"THREADCOUNT_TLS_CERT .* THREADCOUNT_TLS_KEY .* not a PEM certificate and its private key"):
        server_context(found)


async def login_answer(hsts: bool) -> httpx.Response:
    async def login(request):  # type: ignore[no-untyped-def]
        request.session["user"] = "admin"
        return PlainTextResponse("in")

    inner = Starlette(routes=[Route("/login", login)])
    app = SecurityHeaders(DashboardSessions(inner, "k" * 32, https_only=hsts), hsts=hsts)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://testserver") as client:
        return await client.get("/login")


async def test_with_tls_every_answer_carries_hsts_and_the_session_cookie_is_secure() -> None:
    answer = await login_answer(hsts=True)
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
    assert "secure" in answer.headers["set-cookie"].lower()


async def test_without_tls_no_answer_carries_hsts_and_the_cookie_is_not_marked_secure() -> None:
    answer = await login_answer(hsts=False)
    assert "strict-transport-security" not in answer.headers
    assert "secure" not in answer.headers["set-cookie"].lower()
