"""Users, API keys and sessions over HTTP against the running service: keys shown once and stored
hashed, revocation on the next request, sessions ended by logout, a password change or a disable,
and the ledger and the audit trail naming the real caller."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from contextlib import closing

import httpx

from tests.e2e.accounts import PASSWORD, csrf_of, log_in, make_key, make_user, page_csrf
from tests.e2e.conftest import Service
from tests.e2e.test_api import new_skus


def sql(service: Service, query: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(service.data_dir / "threadcount.db") as db:
        return db.execute(query, args).fetchall()


def test_a_user_is_made_listed_and_refused_twice_and_no_answer_carries_a_password(service: Service) -> None:
    with service.client() as admin:
        made = admin.post("/api/v1/users", json={"username": "alice", "password": PASSWORD, "role": "clerk",
                                                 "email": "alice@example.com", "phone": "+1 555 0100"})
        assert made.status_code == 201, made.text
        assert made.json()["role"] == "clerk" and "password" not in made.text and "argon2" not in made.text
        again = admin.post("/api/v1/users", json={"username": "alice", "password": PASSWORD, "role": "viewer"})
        assert again.status_code == 409 and again.json()["error"]["code"] == "already_exists"
        listed = admin.get("/api/v1/users")
        alice = next(u for u in listed.json() if u["username"] == "alice")
        assert set(alice) == {"username", "role", "email", "phone", "disabled", "created_at"}
        assert "argon2" not in listed.text
        for body, field in [({"username": "bob", "password": "short", "role": "clerk"}, "password"),
                            ({"username": "bob", "password": PASSWORD, "role": "owner"}, "role"),
                            ({"username": "admin-token", "password": PASSWORD, "role": "viewer"}, "username")]:
            bad = admin.post("/api/v1/users", json=body)
            assert bad.status_code == 422 and bad.json()["error"]["message"].startswith(field), bad.text
        assert admin.patch("/api/v1/users/nobody-at-all", json={"role": "viewer"}).status_code == 404


def test_a_key_is_shown_once_kept_hashed_and_refused_from_the_request_after_its_revoke(
        service: Service) -> None:
    key_id, name, key = make_key(service, "viewer")
    assert key.startswith("tc_")
    stored = sql(service, "SELECT key_hash FROM api_keys WHERE id = ?", key_id)
    assert stored == [(hashlib.sha256(key.encode()).hexdigest(),)]
    with service.client() as admin:
        listed = admin.get("/api/v1/api-keys")
        assert key not in listed.text
        assert admin.post("/api/v1/api-keys", json={"name": name, "role": "viewer"}).status_code == 409
    with service.client(key) as holder:
        assert holder.get("/api/v1/locations").status_code == 200
        with service.client() as admin:
            assert admin.delete(f"/api/v1/api-keys/{key_id}").status_code == 204
            assert admin.delete("/api/v1/api-keys/999999").status_code == 404
        refused = holder.get("/api/v1/locations")
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorized"
    with service.client() as admin:
        entry = next(k for k in admin.get("/api/v1/api-keys").json() if k["id"] == key_id)
    assert entry["revoked_at"] and entry["last_used_at"]


def test_the_ledger_and_the_audit_trail_name_the_key_and_the_user(service: Service) -> None:
    with service.client() as admin:
        sku = new_skus(admin)[0]
    _, name, key = make_key(service, "clerk")
    with service.client(key) as clerk:
        done = clerk.post("/api/v1/stock/receipts", json={"sku": sku, "location": "WH-EAST", "quantity": 4})
        assert done.status_code == 201, done.text
        assert clerk.get("/api/v1/ledger", params={"sku": sku}).json()[0]["actor"] == f"key:{name}"
    username = make_user(service, "clerk")
    with closing(log_in(service, username)) as browser:
        csrf = page_csrf(browser)
        answer = browser.post("/controls/receive", data={"csrf_token": csrf, "sku": sku, "location": "WH-EAST",
                                                          "quantity": "2", "reference": ""})
        assert answer.status_code == 200, answer.text
    with service.client() as admin:
        actors = [entry["actor"] for entry in admin.get("/api/v1/ledger", params={"sku": sku}).json()]
    assert actors[:2] == [username, f"key:{name}"]
    trail = sql(service, "SELECT actor FROM audit_log WHERE subject = ? ORDER BY id", sku)
    assert [actor for (actor,) in trail] == [f"key:{name}", username]


def went_to_login(browser: httpx.Client) -> bool:
    answer = browser.get("/stock")
    return answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_password_change_ends_an_open_session_at_once(service: Service) -> None:
    username = make_user(service, "viewer")
    with closing(log_in(service, username)) as browser:
        assert browser.get("/stock").status_code == 200
        with service.client() as admin:
            changed = admin.patch(f"/api/v1/users/{username}", json={"password": "another long password"})
            assert changed.status_code == 200 and "password" not in changed.text
        assert went_to_login(browser)
    with closing(log_in(service, username, "another long password")) as browser:
        assert browser.get("/stock").status_code == 200


def test_a_disable_ends_an_open_session_at_once_and_the_user_cannot_log_in(service: Service) -> None:
    username = make_user(service, "manager")
    with closing(log_in(service, username)) as browser:
        assert browser.get("/stock").status_code == 200
        with service.client() as admin:
            assert admin.patch(f"/api/v1/users/{username}", json={"disabled": True}).json()["disabled"] is True
        assert went_to_login(browser)
    with httpx.Client(base_url=service.base, timeout=30) as browser:
        answer = browser.post("/login", data={"username": username, "password": PASSWORD,
                                              "csrf_token": csrf_of(browser.get("/login").text)})
        assert answer.status_code == 401


def test_after_logout_the_old_cookie_opens_nothing(service: Service) -> None:
    username = make_user(service, "viewer")
    with closing(log_in(service, username)) as browser:
        cookies = dict(browser.cookies)
        assert browser.post("/logout", data={"csrf_token": page_csrf(browser)}).status_code == 303
        assert sql(service, "SELECT count(*) FROM sessions WHERE username = ?", username) == [(0,)]
    with httpx.Client(base_url=service.base, timeout=30, cookies=cookies) as replay:
        assert went_to_login(replay)


def test_an_admin_manages_users_and_keys_from_the_dashboard(service: Service) -> None:
    admin_name = make_user(service, "admin")
    with closing(log_in(service, admin_name)) as browser:
        page = browser.get("/users")
        assert page.status_code == 200 and admin_name in page.text
        csrf = csrf_of(page.text)
        made = browser.post("/users", data={"csrf_token": csrf, "username": "dash-made", "password": PASSWORD,
                                            "role": "clerk", "email": "", "phone": ""})
        assert made.status_code == 303, made.text
        short = browser.post("/users", data={"csrf_token": csrf, "username": "dash-short", "password": "x",
                                             "role": "clerk"})
        assert short.status_code == 422 and "at least 8 characters" in short.text
        assert browser.post("/users/dash-made", data={"csrf_token": csrf, "action": "role",
                                                      "role": "manager"}).status_code == 303
        key_page = browser.post("/keys", data={"csrf_token": csrf, "name": "dash-key", "role": "viewer"})
        assert key_page.status_code == 201 and "not shown again" in key_page.text
    with service.client() as admin:
        made_user = next(u for u in admin.get("/api/v1/users").json() if u["username"] == "dash-made")
        assert made_user["role"] == "manager"
        assert any(k["name"] == "dash-key" for k in admin.get("/api/v1/api-keys").json())


def test_last_used_is_written_beside_the_request_not_on_every_one(service: Service) -> None:
    key_id, _, key = make_key(service, "viewer")
    with service.client(key) as holder:
        for _ in range(5):
            assert holder.get("/api/v1/locations").status_code == 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and sql(service, "SELECT last_used_at FROM api_keys WHERE id = ?",
                                              key_id) == [(None,)]:
        time.sleep(0.05)
    assert sql(service, "SELECT last_used_at FROM api_keys WHERE id = ?", key_id) != [(None,)]


def test_an_open_event_stream_ends_soon_after_its_user_is_disabled(service: Service) -> None:
    username = make_user(service, "viewer")
    with closing(log_in(service, username)) as browser, browser.stream("GET", "/stream") as answer:
        assert answer.status_code == 200
        with service.client() as admin:
            assert admin.patch(f"/api/v1/users/{username}", json={"disabled": True}).status_code == 200
        started = time.monotonic()
        for _ in answer.iter_bytes():  # pings and events, until the server ends the stream
            assert time.monotonic() - started < 15, "the stream outlived its session"
    # documented: within 5 s (README, How the live stream fans out); measured 3.0 s; 2 s more for a loaded machine
    assert time.monotonic() - started < 7, time.monotonic() - started
