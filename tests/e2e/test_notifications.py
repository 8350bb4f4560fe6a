"""Alert notifications from the running service: a low-stock alert reaches a real SMTP server within
10 s, is listed by GET /api/v1/notifications and on /alerts, and a manager's test message goes out."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from tests.e2e.conftest import Service, start_service
from tests.e2e.test_dashboard_pages import PASSWORD, csrf_of, log_in, wait_for

SKU = "NOTE-SHEET-Q-WHT"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    box = Inbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, inbox: tuple[Inbox, int]) -> Iterator[Service]:
    running = start_service(Path(tmp_path_factory.mktemp("notify")), extra_env={
        "THREADCOUNT_ADMIN_PASSWORD": PASSWORD, "THREADCOUNT_SMTP_URL": f"smtp://127.0.0.1:{inbox[1]}",
        "THREADCOUNT_NOTIFY_EMAIL": "ops@example.com"})
    yield running
    running.process.stop()


def test_a_low_stock_alert_is_mailed_within_ten_seconds_and_listed(service: Service,
                                                                   inbox: tuple[Inbox, int]) -> None:
    box, _ = inbox
    with service.client() as api:
        api.post("/api/v1/locations", json={"code": "WH-EAST", "name": "East", "kind": "warehouse",
                                            "priority": 10}).raise_for_status()
        api.post("/api/v1/products", json={"sku": "NOTE-SHEET", "name": "Sheet", "variants": [
            {"sku": SKU, "size": "Q", "color": "WHT"}]}).raise_for_status()
        api.post("/api/v1/stock/receipts", json={"sku": SKU, "location": "WH-EAST", "quantity": 3}
                 ).raise_for_status()
        manager = log_in(service.base)
        token = csrf_of(manager.get("/alerts").text)
        raised = time.monotonic()
        answer = manager.post("/controls/reorder", data={"sku": SKU, "reorder_point": "5", "csrf_token": token})
        assert answer.status_code == 200, answer.text
        wait_for(lambda: box.messages, 10, "the low-stock e-mail")
        assert time.monotonic() - raised < 10
        mail = box.messages[0]
        assert mail["To"] == "ops@example.com" and SKU in mail["Subject"]
        assert f"{service.base}/alerts" in mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        listed = wait_for(lambda: api.get("/api/v1/notifications").json(), 10, "the attempt listed")
        assert listed[0]["channel"] == "email" and listed[0]["outcome"] == "sent"
        assert listed[0]["to"] == "ops@example.com" and listed[0]["alert_kind"] == "low_stock"
        assert api.get("/api/v1/notifications?limit=0").status_code == 400
        page = manager.get("/alerts").text
        assert 'data-notification-outcome="sent"' in page and "Send a test message" in page
        sent = manager.post("/alerts/test-message", data={"csrf_token": csrf_of(page)})
        assert sent.status_code == 200 and "1 recipients" in sent.text
        wait_for(lambda: len(box.messages) == 2, 10, "the test message")
        assert "test message" in box.messages[1]["Subject"]
        manager.close()


def test_a_manager_edits_the_rules_on_the_alerts_page(service: Service, inbox: tuple[Inbox, int]) -> None:
    box, _ = inbox
    manager = log_in(service.base)
    page = manager.get("/alerts").text
    assert "From config.yaml." in page and "roles: [manager]" in page
    bad = manager.post("/alerts/notification-rules", data={"csrf_token": csrf_of(page),
                                                           "rules": "- channels: [fax]\n  to: [a@x.com]"})
    assert bad.status_code == 400 and "rules[0].channels" in bad.text and "[fax]" in bad.text
    rules = "- kinds: all\n  channels: [email]\n  to: [rules@example.com]\n"
    saved = manager.post("/alerts/notification-rules", data={"csrf_token": csrf_of(page), "rules": rules})
    assert saved.status_code == 200 and "1 rules" in saved.text and "Saved on this page" in saved.text
    before = len(box.messages)
    sent = manager.post("/alerts/test-message", data={"csrf_token": csrf_of(saved.text)})
    assert "2 recipients" in sent.text
    wait_for(lambda: len(box.messages) == before + 2, 10, "two test messages")
    assert {m["To"] for m in box.messages[before:]} == {"ops@example.com", "rules@example.com"}
    manager.close()


def test_a_viewer_cannot_send_a_test_message(service: Service) -> None:
    with httpx.Client(base_url=service.base, timeout=10) as stranger:
        assert stranger.post("/alerts/test-message").status_code in (303, 401, 403)
        assert stranger.post("/alerts/notification-rules").status_code in (303, 401, 403)


@pytest.fixture(scope="module")
def hanging_mail_server() -> Iterator[int]:
    """Accepts connections and never says a word: every send waits for its timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(100)
    yield int(listener.getsockname()[1])
    listener.close()


def test_orders_are_not_slowed_by_a_mail_server_that_never_answers(
        tmp_path_factory: pytest.TempPathFactory, hanging_mail_server: int) -> None:
    running = start_service(Path(tmp_path_factory.mktemp("hanging")), extra_env={
        "THREADCOUNT_SMTP_URL": f"smtp://127.0.0.1:{hanging_mail_server}",
        "THREADCOUNT_NOTIFY_EMAIL": "ops@example.com"})
    try:
        with running.client() as api:
            for code, priority in (("WH-EAST", 10), ("WH-WEST", 20)):
                api.post("/api/v1/locations", json={"code": code, "name": code, "kind": "warehouse",
                                                    "priority": priority}).raise_for_status()
            skus = [f"HANG-SHEET-{i}-WHT" for i in range(20)]
            api.post("/api/v1/products", json={"sku": "HANG-SHEET", "name": "Sheet", "variants": [
                {"sku": sku, "size": str(i), "color": "WHT"} for i, sku in enumerate(skus)]}).raise_for_status()
            took = []
            for i, sku in enumerate(skus):  # each backorders: an alert opens per order
                started = time.monotonic()
                answer = api.post("/api/v1/orders", json={"channel": "amazon", "external_id": f"hang-{i}",
                                                          "lines": [{"sku": sku, "quantity": 2}]})
                took.append(time.monotonic() - started)
                assert answer.status_code == 201 and answer.json()["status"] == "backordered", answer.text
            alerts = wait_for(lambda: len(api.get("/api/v1/alerts").json()) >= 20 or None, 20, "20 alerts")
            assert alerts
            time.sleep(6)  # the digest leaves now and hangs on the server; orders go on regardless
            for i, sku in enumerate(skus):
                started = time.monotonic()
                api.post("/api/v1/orders", json={"channel": "amazon", "external_id": f"hang-again-{i}",
                                                 "lines": [{"sku": sku, "quantity": 1}]}).raise_for_status()
                took.append(time.monotonic() - started)
            assert max(took) < 2.0, took  # a send waits 10 s for the silent server
            assert [n for n in api.get("/api/v1/notifications").json() if n["outcome"] == "sent"] == []
    finally:
        running.process.stop()
