"""The boutique's published samples (its Shop API v2 docs, as simulators/boutique_wire states them),
fed to both sides: the connector reads the sample order feed through the shipped config.yaml
declaration, and the simulator accepts the sample inventory PUT and refuses what its docs refuse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from connectors.base import OrderEventKind, OrderLine
from connectors.rest_declaration import declaration
from connectors.rest_orders import more_pages, next_cursor, order_events
from connectors.rest_template import render
from simulators.boutique_wire import Refused, inventory_items

CONFIG = Path(__file__).resolve().parents[2] / "config.yaml"
SAMPLE_FEED = {
    "orders": [{"id": "LL-1042", "status": "paid", "created_at": "2026-03-02T10:15:00.000Z",
                "updated_at": "2026-03-02T10:15:00.000Z",
                "items": [{"sku": "DUVET-LIN-Q-SGE", "qty": 1, "price": "189.00"},
                          {"sku": "SHAM-LIN-STD-SGE", "qty": 2, "price": "39.00"}]},
               {"id": "LL-1038", "status": "fulfilled", "created_at": "2026-03-01T16:02:00.000Z",
                "updated_at": "2026-03-02T10:20:00.000Z", "items": [{"sku": "FLAT-COT-K-WHT", "qty": 1,
                                                                      "price": "79.00"}]}],
    "next_page_token": "eyJhdCI6IDQyfQ", "has_more": False,
}
SAMPLE_PUT = {"items": [{"sku": "DUVET-LIN-Q-SGE", "available": 12}, {"sku": "SHAM-LIN-STD-SGE", "available": 0}]}


def shipped() -> Any:
    return declaration(yaml.safe_load(CONFIG.read_text())["partners"]["boutique"]["options"], "boutique")


def test_the_connector_reads_the_boutiques_sample_order_feed() -> None:
    poll = shipped().orders
    events = order_events(SAMPLE_FEED, poll)
    assert [(e.order_id, e.kind) for e in events] == [("LL-1042", OrderEventKind.CREATED),
                                                      ("LL-1038", OrderEventKind.SHIPPED)]
    assert events[0].lines == (OrderLine("DUVET-LIN-Q-SGE", 1), OrderLine("SHAM-LIN-STD-SGE", 2))
    assert next_cursor(SAMPLE_FEED, poll, None) == "eyJhdCI6IDQyfQ"
    assert not more_pages(SAMPLE_FEED, poll, 2, 50, moved=True)


def test_the_simulator_accepts_the_sample_put_and_the_connector_writes_the_same_shape() -> None:
    assert inventory_items(SAMPLE_PUT) == [("DUVET-LIN-Q-SGE", 12), ("SHAM-LIN-STD-SGE", 0)]
    push = shipped().push
    items = [render(push.item, {"sku": sku, "quantity": n}) for sku, n in inventory_items(SAMPLE_PUT)]
    assert render(push.body, {"items": items, "item": items[0], "now": ""}) == SAMPLE_PUT


@pytest.mark.parametrize(("body", "param"), [
    ({"items": [{"sku": "A", "available": 1, "price": "9.00"}]}, "items[0].price"),
    ({"items": [{"sku": "A", "available": -1}]}, "items[0].available"),
    ({"items": [{"sku": "A", "quantity": 1}]}, "items[0].quantity"),
    ({"items": [], "location": "main"}, "location"),
    ({"items": [{"sku": f"S-{i}", "available": 1} for i in range(51)]}, "items"),
])
def test_the_simulator_refuses_what_the_boutiques_docs_refuse(body: dict[str, Any], param: str) -> None:
    with pytest.raises(Refused) as refused:
        inventory_items(body)
    assert (refused.value.status, refused.value.param) == (400, param)
