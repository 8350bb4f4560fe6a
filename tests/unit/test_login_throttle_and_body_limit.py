"""Login throttling (pure, with a hand-moved clock) and the body cap every request passes through
(plain ASGI, exercised with httpx against a tiny app)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from tests.unit.fake_clock import Clock
from web.body_limit import BodyLimit
from web.dashboard.throttle import PER_ADDRESS, PER_USER, REMEMBERED, WINDOW, LoginThrottle


def test_a_username_is_locked_after_five_failures_until_the_oldest_leaves_the_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for n in range(PER_USER):
        assert throttle.retry_after("kim", f"10.0.0.{n}") == 0
        throttle.failed("kim", f"10.0.0.{n}")
        clock.advance(10)
    assert throttle.retry_after("KIM", "10.9.9.9") == WINDOW - 50  # names are not case-sensitive
    assert throttle.retry_after("lee", "10.9.9.9") == 0
    clock.advance(WINDOW - 50)
    assert throttle.retry_after("kim", "10.9.9.9") == 0


def test_an_address_is_locked_after_twenty_failures_whatever_the_names() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for n in range(PER_ADDRESS):
        throttle.failed(f"user{n}", "203.0.113.7")
    assert throttle.retry_after("someone-new", "203.0.113.7") == WINDOW
    assert throttle.retry_after("someone-new", "203.0.113.8") == 0


def test_a_flood_of_made_up_names_from_a_locked_address_is_refused_and_remembers_nothing_more() -> None:
    throttle = LoginThrottle(Clock())
    for n in range(PER_ADDRESS):
        throttle.failed(f"user{n}", "203.0.113.7")
    held = throttle.remembered()
    for n in range(5_000):  # what POST /login does: a look-up, and 429 without a failure recorded
        assert throttle.retry_after(f"bot-{n}", "203.0.113.7") > 0
    assert throttle.remembered() == held


def test_at_most_ten_thousand_names_and_as_many_addresses_are_remembered() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock)
    for n in range(3 * REMEMBERED):
        throttle.failed(f"user{n}", f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
    assert REMEMBERED <= 10_000 and throttle.remembered() == 2 * REMEMBERED
    for _ in range(PER_USER - 1):
        throttle.failed("kim", "10.9.9.9")
    assert throttle.retry_after("kim", "10.9.9.8") == 0
    throttle.failed("kim", "10.9.9.9")
    assert throttle.retry_after("kim", "10.9.9.8") == WINDOW  # the newest are still counted
    clock.advance(WINDOW)
    assert throttle.retry_after("kim", "10.9.9.8") == 0 and throttle.remembered() <= 2 * REMEMBERED


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    body = await Request(scope, receive).body()
    await PlainTextResponse(str(len(body)))(scope, receive, send)


async def chunks(size: int, piece: int = 1024) -> AsyncIterator[bytes]:
    for _ in range(size // piece):
        yield b"x" * piece


async def post(content: bytes | AsyncIterator[bytes], path: str = "/login") -> httpx.Response:
    app = BodyLimit(echo_length, caps=(("/bulk/", 8192),), default=2048)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        return await client.post(path, content=content)


async def test_a_body_under_the_cap_reaches_the_route() -> None:
    answer = await post(b"x" * 2048)
    assert (answer.status_code, answer.text) == (200, "2048")


async def test_a_declared_length_over_the_cap_is_refused_before_the_route_reads_it() -> None:
    answer = await post(b"x" * 2049)
    assert answer.status_code == 413
    assert answer.json()["error"] == {"code": "body_too_large", "message": "body: at most 2048 bytes"}


async def test_a_streamed_body_is_cut_off_as_soon_as_it_passes_the_cap() -> None:
    answer = await post(chunks(64 * 1024))
    assert answer.status_code == 413


async def test_each_path_prefix_has_its_own_cap() -> None:
    assert (await post(b"x" * 8000, "/bulk/stocktake")).status_code == 200
    assert (await post(b"x" * 8000, "/logout")).status_code == 413
