"""Logging in, as a hostile client would try it: guessing passwords, and sending huge forms."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.conftest import Service, start_service

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def own_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Its own service: locking the admin out must not lock out the other tests' logins."""
    running = start_service(tmp_path_factory.mktemp("login"), extra_env={"THREADCOUNT_ADMIN_PASSWORD": PASSWORD})
    yield running
    running.process.stop()


def attempt(browser: httpx.Client, username: str, password: str) -> httpx.Response:
    page = browser.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    return browser.post("/login", data={"username": username, "password": password,
                                        "csrf_token": token.group(1)})


def test_five_wrong_passwords_lock_the_username_even_against_the_right_one(own_service: Service) -> None:
    with httpx.Client(base_url=own_service.base, timeout=30) as browser:
        assert [attempt(browser, "admin", f"guess {n}").status_code for n in range(5)] == [401] * 5
        locked = attempt(browser, "admin", PASSWORD)
        assert locked.status_code == 429
        assert 0 < int(locked.headers["retry-after"]) <= 15 * 60
        assert "too many failed logins" in locked.text
        assert attempt(browser, "someone-else", "guess").status_code == 401  # another name is not locked


def test_a_login_form_far_over_the_cap_is_refused_at_once(own_service: Service) -> None:
    with httpx.Client(base_url=own_service.base, timeout=30) as browser:
        started = time.perf_counter()
        answer = browser.post("/login", content=b"username=" + b"a" * (8 * 1024 * 1024),
                              headers={"content-type": "application/x-www-form-urlencoded"})
        assert answer.status_code == 413
        assert answer.json()["error"]["code"] == "body_too_large"
        assert time.perf_counter() - started < 5
