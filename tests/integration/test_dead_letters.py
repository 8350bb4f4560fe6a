"""Partner orders that can never apply as they stand, on SQLite and PostgreSQL: kept as dead
letters with an alert of their own, never holding up the orders around them or the cursor, and
applied by a retry once their cause is fixed. A signed delivery no connector can read is answered
as malformed (the ingress's 400), never raised (its 500)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from connectors.base import OrderEvent, OrderEventKind, OrderLine, OrderPage, PartnerSpec
from connectors.registry import KINDS, connector_class
from inventory.desk import Channel
from store import dead_letters as letters
from store import listings as store
from store.catalog import Catalog, NewVariant
from store.engine import make_engine
from sync.calls import PartnerCalls
from sync.config import PartnerConfig
from sync.dead_letters import DeadLetters
from sync.intake import MAX_LINE_QUANTITY, OrderIntake
from sync.order_taker import OrderTaker
from sync.state import StoredState
from tests.harness.secret_box import fresh_box
from tests.integration.conftest import small_catalog
from tests.integration.test_rest_connector import CONFIG
from tests.unit.test_intake import FakeDesk


class PagedPartner:
    """Hands out one prepared page of events per poll; records the cursor it was given."""

    restate_after_sale = False

    def __init__(self, pages: list[OrderPage]):
        self.pages, self.cursors = pages, []

    async def fetch_orders(self, cursor: str | None, page_size: int) -> OrderPage:
        self.cursors.append(cursor)
        return self.pages.pop(0)

    async def confirm(self, events: Sequence[OrderEvent]) -> None:
        pass


@dataclass
class Taking:
    taker: OrderTaker
    desk: FakeDesk
    letters: DeadLetters
    alerts: list[tuple[str, str, str]]
    engine: Any
    state: StoredState


@contextlib.asynccontextmanager
async def taking(database_url: str, connector: Any, partner_id: str = "shop") -> AsyncIterator[Taking]:
    fx = await small_catalog(database_url, variants=3)
    engine = make_engine(database_url)
    await store.ensure_partner(engine, partner_id, "memory", "Shop", "http://shop", "backorder", {})
    catalog = Catalog(engine)
    await catalog.refresh()
    desk = FakeDesk({variant: 10 for variant in fx.variants})
    alerts: list[tuple[str, str, str]] = []

    async def alert(kind: str, key: str, message: str) -> None:
        alerts.append((kind, key, message))

    async def stored(order_id: str) -> list[int] | None:
        return None

    intake = OrderIntake(partner_id, Channel(partner_id, "backorder", (fx.east,)), desk,  # type: ignore[arg-type]
                         catalog, stored, alert)
    state = StoredState(engine, partner_id, {}, fresh_box())
    await state.load()
    dead = DeadLetters(partner_id, intake, engine, alert)
    config = PartnerConfig(partner_id, "memory", "Shop", "", {}, {})
    taker = OrderTaker(config, connector, PartnerCalls(partner_id, "Shop", state, alert), state, intake, engine,
                       dead_letters=dead)
    try:
        yield Taking(taker, desk, dead, alerts, engine, state)
    finally:
        await engine.dispose()


def created(order_id: str, *lines: tuple[str, int]) -> OrderEvent:
    return OrderEvent(f"{order_id}:paid", OrderEventKind.CREATED, order_id,
                      tuple(OrderLine(sku, quantity) for sku, quantity in lines), None, {"id": order_id})


async def test_an_unusable_order_is_a_dead_letter_and_the_rest_of_the_page_and_the_cursor_move_on(
        database_url: str) -> None:
    page = [created("A", ("SHEET-0", 1)), created("B", ("SHEET-1", MAX_LINE_QUANTITY + 1)),
            created("C", ("", 2)), created("D", ("SHEET-NEW", 1)), created("E", ("SHEET-2", 2))]
    partner = PagedPartner([OrderPage(page, "after-page-1"), OrderPage(page, "after-page-2")])
    async with taking(database_url, partner) as t:
        assert await t.taker.poll_once() == 5
        assert [call[2] for call in t.desk.calls] == ["A", "E"]
        assert t.state.cursor == "after-page-1"
        kept = await letters.for_partner(t.engine, "shop", "open")
        assert sorted(letter.order_id for letter in kept) == ["B", "C", "D"]
        reasons = {letter.order_id: letter.reason for letter in kept}
        assert "quantity 1000000001" in reasons["B"] and "sku ''" in reasons["C"]
        assert "SHEET-NEW not in the catalog" in reasons["D"]
        assert [(k, key) for k, key, _ in t.alerts if k == "dead_letter"] == [
            ("dead_letter", "shop:B"), ("dead_letter", "shop:C"), ("dead_letter", "shop:D")]
        await t.taker.poll_once()   # the same page again: seen, so no new letters or attempts
        assert len(await letters.for_partner(t.engine, "shop")) == 3
        assert t.state.cursor == "after-page-2"


async def test_a_retry_applies_the_letter_once_its_cause_is_fixed_and_keeps_it_open_until_then(
        database_url: str) -> None:
    partner = PagedPartner([OrderPage([created("D", ("SHEET-NEW", 2))], "c1")])
    async with taking(database_url, partner) as t:
        await t.taker.poll_once()
        (letter,) = await letters.for_partner(t.engine, "shop")
        still = await t.letters.retry(letter.id)
        assert (still["status"], letter.attempts) == ("open", 1)
        assert (await letters.find(t.engine, "shop", letter.id)).attempts == 2  # type: ignore[union-attr]
        catalog = Catalog(t.engine)
        await catalog.add_product("NEW", "New sheet", "", [NewVariant("SHEET-NEW")])
        await t.taker._intake._catalog.refresh()   # type: ignore[attr-defined]
        assert (await t.letters.retry(letter.id))["status"] == "applied"
        assert t.desk.calls[-1][2] == "D"
        assert await letters.for_partner(t.engine, "shop", "open") == []


def connector_for(kind: str) -> Any:
    options = yaml.safe_load(CONFIG.read_text())["partners"]["boutique"]["options"] if kind == "rest" else {}
    return connector_class(kind)(PartnerSpec(kind, kind, "http://127.0.0.1:9", {"api_key": "k"}, options))


MALFORMED_BODIES = [b"{not json", b"[]", b'"x"', b'{"line_items": 5, "id": 1}',
                    b'{"event_type": "ORDER_PAID", "resource_url": 7}', b'{"data": {"object": "x"}}']


@pytest.mark.parametrize("kind", KINDS)
async def test_a_signed_but_malformed_delivery_is_answered_as_malformed_for_every_partner_kind(
        database_url: str, kind: str) -> None:
    async with taking(database_url, connector_for(kind), partner_id=kind) as t:
        for body in MALFORMED_BODIES:
            answer = await t.taker.take_webhook({"X-Shopify-Topic": "orders/create"}, body)
            assert answer["status"] in ("malformed", "ok"), (kind, body, answer)
            assert answer["taken"] == 0
        assert t.desk.calls == []
