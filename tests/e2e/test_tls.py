"""`python run.py` with THREADCOUNT_TLS_CERT and THREADCOUNT_TLS_KEY: HTTPS only on the web port and the
webhook ingress, HSTS on every answer, a Secure session cookie; a half-given or unreadable TLS setting
stops it at start with the variable named."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import REPO, Service, start_service
from tests.harness.certificates import self_signed, trusting
from tests.harness.procs import free_ports

PASSWORD = "tls horse battery staple"


@pytest.fixture(scope="module")
def tls_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, int, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(folder)
    web_port, ingress_port = free_ports(2)
    running = start_service(folder / "data", ports=(web_port, ingress_port), trust=trusting(cert),
                            extra_env={"THREADCOUNT_TLS_CERT": str(cert), "THREADCOUNT_TLS_KEY": str(key),
                                       "THREADCOUNT_ADMIN_PASSWORD": PASSWORD})
    yield running, ingress_port, cert
    running.process.stop()


def test_the_web_port_answers_https_verified_with_its_certificate_and_sends_hsts(tls_service: tuple[Service, int, Path]) -> None:
    service, _, _ = tls_service
    with service.client() as api:
        health = api.get("/healthz")
        assert health.status_code == 200
        assert health.headers["strict-transport-security"] == "max-age=31536000"
        assert api.get("/api/v1/locations").headers["strict-transport-security"] == "max-age=31536000"


def test_plain_http_to_the_web_port_and_the_ingress_fails(tls_service: tuple[Service, int, Path]) -> None:
    service, ingress_port, _ = tls_service
    web_port = service.base.rsplit(":", 1)[1]
    for port in (web_port, ingress_port):
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)


def test_the_ingress_answers_https_only_with_its_certificate(tls_service: tuple[Service, int, Path]) -> None:
    _, ingress_port, cert = tls_service
    answer = httpx.post(f"https://127.0.0.1:{ingress_port}/webhooks/nobody", content=b"{}",
                        verify=trusting(cert), timeout=10)
    assert answer.status_code == 404  # spoken to over TLS; the partner is unknown
    with pytest.raises(httpx.TransportError):  # a client that does not trust the certificate
        httpx.post(f"https://127.0.0.1:{ingress_port}/webhooks/nobody", content=b"{}", timeout=10)


def test_the_session_cookie_is_secure_after_login_over_https(tls_service: tuple[Service, int, Path]) -> None:
    service, _, _ = tls_service
    with httpx.Client(base_url=service.base, verify=service.verify, timeout=30) as browser:
        page = browser.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        answer = browser.post("/login", data={"username": "admin", "password": PASSWORD,
                                              "csrf_token": token.group(1)})
        assert answer.status_code in (302, 303), answer.text
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("threadcount_session=")
        assert "; secure" in cookie.lower() and "httponly" in cookie.lower()
        assert answer.headers["strict-transport-security"] == "max-age=31536000"


@pytest.mark.parametrize(("env", "named"), [
    ({"THREADCOUNT_TLS_CERT": "{cert}"}, "THREADCOUNT_TLS_KEY"),
    ({"THREADCOUNT_TLS_KEY": "{key}"}, "THREADCOUNT_TLS_CERT"),
    ({"THREADCOUNT_TLS_CERT": "{cert}", "THREADCOUNT_TLS_KEY": "{folder}/missing.pem"}, "THREADCOUNT_TLS_KEY"),
    ({"THREADCOUNT_TLS_CERT": "{key}", "THREADCOUNT_TLS_KEY": "{cert}"}, "THREADCOUNT_TLS_CERT"),
])
def test_a_half_given_or_unreadable_tls_setting_stops_the_start_naming_the_variable(
    tmp_path: Path, env: dict[str, str], named: str
) -> None:
    cert, key = self_signed(tmp_path)
    values = {k: v.format(cert=cert, key=key, folder=tmp_path) for k, v in env.items()}
    base = {k: v for k, v in os.environ.items() if not k.startswith("THREADCOUNT_")}
    done = subprocess.run([sys.executable, str(REPO / "run.py")], cwd=REPO, capture_output=True, text=True,
                          timeout=60, env={**base, "THREADCOUNT_DATA_DIR": str(tmp_path / "data"), **values})
    assert done.returncode == 2, done.stdout + done.stderr
    assert named in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
