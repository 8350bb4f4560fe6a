"""Web workers' split of the routes and the primary's trust in the workers' hop (web/forward.py)."""

from __future__ import annotations

from typing import Any

import pytest

from web.forward import FromWorkers, Tagged, _without_ours, served_by_worker

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/orders/ord_1/cancel", "/api/v1/stock/receipts",
                                  "/api/v1/variants/SKU-1/stock", "/api/v1/ledger", "/api/v1/ledger/check",
                                  "/stream", "/healthz", "/static/app.css"])
def test_a_worker_answers_the_routes_that_scale_itself(path: str) -> None:
    assert served_by_worker(path)


@pytest.mark.parametrize("path", ["/login", "/", "/stock", "/api/v1/products", "/api/v1/variants/SKU-1",
                                  "/api/v1/holds", "/api/v1/partners", "/metrics", "/readyz", "/api/v1/stocky"])
def test_every_other_route_goes_to_the_primary(path: str) -> None:
    assert not served_by_worker(path)


def test_every_x_threadcount_header_is_dropped_whatever_its_case_and_the_rest_keep_their_order() -> None:
    headers = [(b"host", b"shop"), (b"X-Threadcount-Client", b"10.0.0.1:1"), (b"cookie", b"a=1"),
               (b"x-threadcount-scheme", b"https"), (b"x-threadcounter", b"kept")]
    assert _without_ours(headers) == [(b"host", b"shop"), (b"cookie", b"a=1"), (b"x-threadcounter", b"kept")]


class Seen:
    def __init__(self) -> None:
        self.scope: dict[str, Any] = {}
        self.sent: list[dict[str, Any]] = []

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        self.scope = scope
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def send(self, message: Any) -> None:
        self.sent.append(message)


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "path": "/login", "headers": headers, "client": None, "scheme": "http"}


async def test_the_primary_takes_the_callers_address_and_scheme_from_a_worker_on_its_unix_socket() -> None:
    seen = Seen()
    await FromWorkers(seen.app)(_scope([(b"x-threadcount-client", b"203.0.113.7:5123"),
                                        (b"x-threadcount-scheme", b"https"), (b"host", b"shop")]),
                                None, seen.send)
    assert seen.scope["client"] == ("203.0.113.7", 5123)
    assert seen.scope["scheme"] == "https"
    assert seen.scope["headers"] == [(b"host", b"shop")]
    assert (b"x-threadcount-worker", b"0") in seen.sent[0]["headers"]


async def test_on_its_tcp_port_the_primary_drops_the_workers_headers_a_caller_sent() -> None:
    seen = Seen()
    scope = {**_scope([(b"X-Threadcount-Client", b"10.0.0.1:1"), (b"host", b"shop")]), "client": ("198.51.100.2", 4)}
    await Tagged(seen.app)(scope, None, seen.send)
    assert seen.scope["client"] == ("198.51.100.2", 4)
    assert seen.scope["headers"] == [(b"host", b"shop")]


async def test_a_scheme_other_than_http_or_https_from_a_worker_is_taken_as_http() -> None:
    seen = Seen()
    await FromWorkers(seen.app)(_scope([(b"x-threadcount-scheme", b"gopher")]), None, seen.send)
    assert seen.scope["scheme"] == "http"
    assert seen.scope["client"] is None


def test_a_worker_that_keeps_dying_at_once_waits_longer_each_time_and_one_that_ran_a_while_does_not() -> None:
    from service.web_workers import RESTART_DELAY, RESTART_DELAY_MAX, restart_wait

    waits = [restart_wait(0.0, 0.5)]
    for _ in range(8):
        waits.append(restart_wait(waits[-1], 0.5))
    assert waits[:4] == [RESTART_DELAY, 2 * RESTART_DELAY, 4 * RESTART_DELAY, 8 * RESTART_DELAY]
    assert waits[-1] == RESTART_DELAY_MAX
    assert restart_wait(RESTART_DELAY_MAX, 3600) == RESTART_DELAY


def test_web_workers_on_a_two_cpu_machine_are_warned_about_and_on_a_bigger_one_or_alone_are_not() -> None:
    from service.web_workers import few_cpus_warning

    warning = few_cpus_warning(2, 2)
    assert warning is not None
    assert "2 web processes on 2 CPUs" in warning and "THREADCOUNT_WEB_WORKERS=1" in warning
    assert few_cpus_warning(3, 1) is not None
    assert few_cpus_warning(1, 2) is None      # one process: nothing to say
    assert few_cpus_warning(2, 4) is None      # more cores: the web tier is what one process caps
    assert few_cpus_warning(2, None) is None   # the CPU count is unknown
