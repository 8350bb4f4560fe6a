"""The partners page's buffer line: a fixed buffer, or an auto one with its reasoning; and the API's
`sync.buffer` against its OpenAPI schema."""

from __future__ import annotations

import jsonschema
import pytest

from sync.buffers import AdaptiveBuffers, AutoBuffer
from tests.unit.fake_clock import Clock
from web.dashboard.partners import buffer_reasoning
from web.openapi import openapi_document


def test_a_fixed_buffer_reads_as_the_units_every_listing_keeps_back() -> None:
    assert buffer_reasoning({"mode": "fixed", "units": 1}) == (
        "fixed: 1 unit kept back from every listing", [])


def test_an_auto_buffer_gives_its_bounds_lag_and_each_held_listings_reasoning() -> None:
    clock = Clock()
    buffers = AdaptiveBuffers(AutoBuffer(minimum=0, maximum=5), clock=clock)
    for _ in range(10):
        buffers.pushed(1.9)
    for _ in range(20):
        buffers.sold("SHEET-Q", 1)
        clock.advance(0.5)
    summary, lines = buffer_reasoning(buffers.reasoning())
    assert summary.startswith("auto, per listing: floor 0, ceiling 5; sync lag 1.90 s; stock goes at 0.")
    assert summary.endswith("; 1 listing above the floor")
    assert lines == ["SHEET-Q: shown as 0 from 3 left = what goes within 1.90 s in 90% of cases at 0.78 units/s "
                     "(1.48 expected)"]


def test_an_unmeasured_lag_says_it_is_assumed() -> None:
    summary, lines = buffer_reasoning(AdaptiveBuffers(AutoBuffer()).reasoning())
    assert "sync lag 1.00 s (assumed until a push is measured)" in summary and lines == []


def test_a_polled_partners_lag_says_how_much_is_the_wait_for_its_orders() -> None:
    buffers = AdaptiveBuffers(AutoBuffer(), order_delay_s=2.5)
    buffers.pushed(0.25)
    summary, _ = buffer_reasoning(buffers.reasoning())
    assert "sync lag 2.75 s (pushes 0.25 s + orders polled, up to 2.50 s)" in summary


def test_what_the_api_shows_of_a_buffer_fits_its_openapi_schema() -> None:
    schema = openapi_document()["components"]["schemas"]["PartnerBuffer"]
    clock = Clock()
    buffers = AdaptiveBuffers(AutoBuffer(), clock=clock, order_delay_s=2.5)
    buffers.pushed(0.3)
    for available in range(20, 0, -1):
        buffers.seen("SHEET-Q", available)
        clock.advance(0.5)
    assert buffers.reasoning()["hottest"]
    for shown in (buffers.reasoning(), AdaptiveBuffers(AutoBuffer()).reasoning(), {"mode": "fixed", "units": 1}):
        jsonschema.validate(shown, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"mode": "auto", "units": 1}, schema)
