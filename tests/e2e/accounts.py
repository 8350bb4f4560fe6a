"""Helpers for the role tests: users and keys of each role made over the API, and logged-in browsers."""

from __future__ import annotations

import re
import secrets

import httpx

from tests.e2e.conftest import Service

ROLES = ("viewer", "clerk", "manager", "admin")
PASSWORD = "a long enough password"


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page carries a CSRF token"
    return found.group(1)


def make_key(service: Service, role: str, name: str | None = None) -> tuple[int, str, str]:
    """(id, name, key) of a new API key of `role`."""
    name = name or f"{role}-{secrets.token_hex(4)}"
    with service.client() as admin:
        answer = admin.post("/api/v1/api-keys", json={"name": name, "role": role})
    assert answer.status_code == 201, answer.text
    found = answer.json()
    return found["id"], name, found["key"]


def make_user(service: Service, role: str, name: str | None = None, password: str = PASSWORD) -> str:
    username = name or f"{role}-{secrets.token_hex(4)}"
    with service.client() as admin:
        answer = admin.post("/api/v1/users", json={"username": username, "password": password, "role": role})
    assert answer.status_code == 201, answer.text
    return username


def log_in(service: Service, username: str, password: str = PASSWORD) -> httpx.Client:
    browser = httpx.Client(base_url=service.base, timeout=30)
    answer = browser.post("/login", data={"username": username, "password": password,
                                          "csrf_token": csrf_of(browser.get("/login").text)})
    assert answer.status_code == 303, answer.text
    return browser


def page_csrf(browser: httpx.Client) -> str:
    return csrf_of(browser.get("/stock").text)
