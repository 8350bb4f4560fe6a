"""Slow and vanishing clients against `python run.py`: a client that trickles half its headers is
disconnected within client_timeout_s on both ports, also in its second request on a kept-alive
connection, which may idle between requests longer than that; a half-sent body that stalls is
answered 408; a client gone mid-body leaves no traceback in the log."""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import Service, start_service

TIMEOUT = 2  # seconds: THREADCOUNT_CLIENT_TIMEOUT for this service


@pytest.fixture(scope="module")
def patient(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = start_service(tmp_path_factory.mktemp("slow"), extra_env={"THREADCOUNT_CLIENT_TIMEOUT": str(TIMEOUT)})
    yield running
    running.process.stop()


def ports(service: Service) -> dict[str, int]:
    return {"web": urlsplit(service.base).port or 0, "ingress": int(service.env["THREADCOUNT_INGRESS_PORT"])}


def closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closed the connection (reading what it sends, if anything)."""
    started = time.monotonic()
    sock.settimeout(limit)
    while sock.recv(4096):
        pass
    return time.monotonic() - started


@pytest.mark.parametrize("port", ["web", "ingress"])
def test_a_client_that_sends_half_its_headers_and_stalls_is_disconnected_within_the_timeout(
        patient: Service, port: str) -> None:
    with socket.create_connection(("127.0.0.1", ports(patient)[port])) as sock:
        sock.sendall(b"POST /webhooks/shopify HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert closed_after(sock, TIMEOUT + 5) < TIMEOUT + 2


def healthz(conn: http.client.HTTPConnection) -> int:
    """One GET /healthz on the connection, its answer read whole: the status."""
    conn.request("GET", "/healthz")
    answer = conn.getresponse()
    answer.read()
    return answer.status


def kept_alive(service: Service) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", ports(service)["web"], timeout=5)


def test_a_kept_alive_connection_idle_longer_than_the_header_timeout_and_than_httpx_keeps_one_still_takes_a_request(
        patient: Service) -> None:
    conn = kept_alive(patient)
    try:
        assert healthz(conn) == 200
        first = conn.sock
        time.sleep(max(TIMEOUT, 5) + 1.5)  # httpx reuses a connection idle up to 5 s
        assert healthz(conn) == 200  # http.client does not retry: a closed connection would raise
        assert conn.sock is first
    finally:
        conn.close()


def test_the_next_request_on_a_kept_alive_connection_that_stalls_in_its_headers_is_disconnected(
        patient: Service) -> None:
    conn = kept_alive(patient)
    try:
        assert healthz(conn) == 200
        time.sleep(1)
        conn.sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert closed_after(conn.sock, TIMEOUT + 5) < TIMEOUT + 2
    finally:
        conn.close()


def test_a_body_that_stalls_halfway_is_answered_408(patient: Service) -> None:
    with socket.create_connection(("127.0.0.1", ports(patient)["web"])) as sock:
        sock.sendall(b"POST /api/v1/stock/receipts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + patient.token.encode() + b"\r\nContent-Length: 100\r\n\r\n{\"sku\":")
        sock.settimeout(TIMEOUT + 5)
        answer = b""
        while b"request_timeout" not in answer and (chunk := sock.recv(4096)):  # head and body may
            answer += chunk                                                       # come apart
    assert answer.startswith(b"HTTP/1.1 408") and b"request_timeout" in answer


def log_text(service: Service) -> str:
    return Path(service.data_dir / "threadcount.log").read_text(errors="replace")


@pytest.mark.parametrize(("port", "path"), [("web", "/api/v1/stock/receipts"), ("web", "/login"),
                                            ("ingress", "/webhooks/shopify")])
def test_a_client_gone_mid_body_leaves_no_traceback_in_the_log(patient: Service, port: str, path: str) -> None:
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", ports(patient)[port])) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         f"Authorization: Bearer {patient.token}\r\nContent-Length: 1000\r\n\r\n".encode()
                         + b'{"sku": "half')
            time.sleep(0.1)
    time.sleep(0.5)
    patient.process.check_alive()
    assert "Traceback" not in log_text(patient) and "Exception in ASGI" not in log_text(patient)
