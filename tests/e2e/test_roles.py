"""Every route of the running app, with a caller of each role: 403 `forbidden` below the role
web/roles.py declares for it, anything but 403 at or above it. The REST routes are called with API
keys, the dashboard's with logged-in users; every body is empty or wrong, so nothing changes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from service.principals import Role
from tests.e2e.accounts import ROLES, log_in, make_key, make_user, page_csrf
from tests.e2e.conftest import Service
from web.roles import ROLES as TABLE
from web.roles import By

SAMPLE = {"sku": "NO-SUCH-SKU", "id": "999999", "letter_id": "999999", "username": "nobody-here",
          "partner_id": "nobody", "alert_id": "999999", "name": "no-such-report", "kind": "stocktake",
          "action": "receive"}


def fill(template: str, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda found: params[found.group(1)], template)


def cases() -> list[tuple[str, str, Role]]:
    """(method, concrete path, role needed) for every row of the table, each value of a By."""
    found = []
    for (method, template), need in TABLE.items():
        values = need.roles.items() if isinstance(need, By) else [(None, need)]
        for value, role in values:
            params = dict(SAMPLE)
            if isinstance(need, By) and value is not None:
                params[need.param] = value
            path = fill(template, params)
            found.append((method, path, role))
    return found


@pytest.fixture(scope="module")
def callers(service: Service) -> Iterator[dict[str, tuple[httpx.Client, httpx.Client, str]]]:
    """Per role: (API client with a key of that role, logged-in browser, its CSRF token)."""
    made = {}
    for role in ROLES:
        _, _, key = make_key(service, role)
        api = service.client(key)
        browser = log_in(service, make_user(service, role))
        made[role] = (api, browser, page_csrf(browser))
    yield made
    for api, browser, _ in made.values():
        api.close()
        browser.close()


def call(client: httpx.Client, method: str, path: str, csrf: str | None) -> int:
    if path.startswith("/api/"):
        return client.request(method, path, json={}).status_code
    if path == "/stream":
        with client.stream("GET", path) as answer:  # an event stream never ends: the status is enough
            return answer.status_code
    data = {"csrf_token": csrf} if method == "POST" and csrf else None
    return client.request(method, path, data=data, headers={"X-CSRF-Token": csrf or ""}).status_code


def test_every_route_refuses_a_role_below_its_own_and_serves_one_at_or_above(
        callers: dict[str, tuple[httpx.Client, httpx.Client, str]]) -> None:
    wrong = []
    for method, path, needed in cases():
        for role in ROLES:
            api, browser, csrf = callers[role]
            status = call(api if path.startswith("/api/") else browser, method, path, csrf)
            allowed = Role(role).allows(needed)
            if (status == 403) == allowed or status >= 500 or status in (303, 401):
                wrong.append(f"{method} {path} as {role} (needs {needed}): {status}")
    assert wrong == []


def test_a_refusal_is_403_forbidden_naming_the_role_and_changes_nothing(
        service: Service, callers: dict[str, tuple[httpx.Client, httpx.Client, str]]) -> None:
    api, _, _ = callers["viewer"]
    answer = api.post("/api/v1/locations", json={"code": "VIEWER-MADE", "name": "x", "kind": "store"})
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "forbidden" and "manager" in error["message"]
    with service.client() as admin:
        codes = [loc["code"] for loc in admin.get("/api/v1/locations").json()]
    assert "VIEWER-MADE" not in codes


def test_a_viewer_sees_the_stock_page_but_a_stock_action_from_it_is_refused(
        callers: dict[str, tuple[httpx.Client, httpx.Client, str]]) -> None:
    _, browser, csrf = callers["viewer"]
    assert browser.get("/stock").status_code == 200
    refused = browser.post("/controls/receive", data={"csrf_token": csrf, "sku": "X", "location": "WH-EAST",
                                                       "quantity": "1"}, headers={"HX-Request": "true"})
    assert refused.status_code == 403 and "needs the role clerk" in refused.text
    assert "/users" not in browser.get("/stock").text  # the admin's link is not shown to a viewer
