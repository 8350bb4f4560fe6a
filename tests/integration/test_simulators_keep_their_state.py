"""A partner does not forget what it shows when its servers restart: every simulator stopped and
started again on the same state folder shows the same listings, keeps its orders and still knows
the tokens it issued (Etsy's rotated refresh token above all)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulators.base import SimConfig, Simulator
from simulators.registry import KINDS, simulator_class

SKUS = ["SHEET-Q-WHT", "SHEET-K-WHT", "DUVET-Q-GRY"]


def a_simulator(kind: str, tmp_path: Path, credentials: dict[str, str]) -> Simulator:
    config = SimConfig(partner_id=f"{kind}-1", credentials=credentials, skus=SKUS, initial_quantity=5,
                       options={"root": str(tmp_path / "sftp")}, state_dir=tmp_path / "state")
    sim: Simulator = simulator_class(kind)(config)
    return sim


async def control(sim: Simulator, method: str, path: str, body: Any = None) -> Any:
    async with aiohttp.ClientSession() as http, http.request(method, sim.base_url + path, json=body) as answer:
        assert answer.status < 300, await answer.text()
        return await answer.json()


@pytest.mark.integration
@pytest.mark.parametrize("kind", KINDS)
async def test_a_simulator_started_again_on_its_state_folder_shows_the_same_listings_and_keeps_its_orders(
        kind: str, tmp_path: Path) -> None:
    credentials = simulator_class(kind).demo_credentials(f"{kind}-1")
    first = a_simulator(kind, tmp_path, credentials)
    await first.start()
    try:
        await control(first, "PUT", "/_sim/listings", {"SHEET-Q-WHT": 40, "SHEET-K-WHT": 0})
        order = await control(first, "POST", "/_sim/orders", {"sku": "DUVET-Q-GRY", "quantity": 2})
        refresh_token = getattr(first, "refresh_token", None)
    finally:
        await first.stop()
    again = a_simulator(kind, tmp_path, credentials)
    await again.start()
    try:
        assert await control(again, "GET", "/_sim/listings") == {"SHEET-Q-WHT": 40, "SHEET-K-WHT": 0,
                                                                 "DUVET-Q-GRY": 3}
        assert str(order["order_id"]) in again.orders
        assert getattr(again, "refresh_token", None) == refresh_token
        second = await control(again, "POST", "/_sim/orders", {"sku": "SHEET-Q-WHT", "quantity": 1})
        assert str(second["order_id"]) != str(order["order_id"])  # ids go on from where they were
    finally:
        await again.stop()


@pytest.mark.integration
async def test_a_save_is_atomic_and_skipped_when_nothing_changed(tmp_path: Path) -> None:
    sim = a_simulator("etsy", tmp_path, simulator_class("etsy").demo_credentials("etsy-1"))
    assert sim.save_state() is True
    assert sim.save_state() is False
    sim.listings["SHEET-Q-WHT"] = 9
    assert sim.save_state() is True
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["etsy-1.json"]  # no temporary left
