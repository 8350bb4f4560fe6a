"""A `rest` partner's declaration: templates, JMESPath order mapping, cursor kinds, and config
errors reported at start with the key named."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from connectors.base import OrderEventKind, OrderLine
from connectors.rest_declaration import RestConfigError, declaration
from connectors.rest_orders import first_cursor, more_pages, next_cursor, order_events
from connectors.rest_template import render, render_path, render_query
from sync.config import PartnerConfigError, partners

OPTIONS: dict[str, Any] = {
    "auth": {"type": "bearer", "credential": "token"},
    "push": {"method": "post", "path": "/stock", "body": {"updates": "{items}", "sent": "{now}"},
             "item": {"code": "{sku}", "qty": "{quantity}", "note": "set {sku} to {quantity}"}},
    "orders": {"path": "/orders", "params": {"per_page": "{page_size}"},
               "cursor": {"kind": "timestamp", "param": "since", "next": "max(data[].modified)", "format": "unix",
                          "lookback_s": 600},
               "orders": "data", "id": "ref", "status": "state", "lines": "basket.rows",
               "sku": "product.code", "quantity": "count",
               "statuses": {"created": ["new", "paid"], "cancelled": "void"}},
}


def options(**changes: Any) -> dict[str, Any]:
    found = copy.deepcopy(OPTIONS)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = found
        for part in parents:
            node = node[part]
        node[last] = value
    return found


def test_a_whole_placeholder_keeps_its_type_and_a_placeholder_in_text_is_filled_in() -> None:
    item = OPTIONS["push"]["item"]
    assert render(item, {"sku": "SHEET-1", "quantity": 4}) == {"code": "SHEET-1", "qty": 4, "note": "set SHEET-1 to 4"}


def test_a_path_value_is_one_quoted_segment_and_a_list_query_value_repeats() -> None:
    assert render_path("/items/{sku}/stock", {"sku": "A/B C"}) == "/items/A%2FB%20C/stock"
    assert render_query({"sku": "{skus}", "cursor": "{cursor}"}, {"skus": ["A", "B"], "cursor": None}) == [
        ("sku", "A"), ("sku", "B")]


def test_orders_lines_skus_quantities_and_statuses_come_from_the_declared_expressions() -> None:
    poll = declaration(OPTIONS, "x").orders
    page = {"data": [
        {"ref": 7, "state": "paid", "modified": 1700000100, "basket": {"rows": [
            {"product": {"code": "SHEET-1"}, "count": "2"}, {"product": {}, "count": 1.5}]}},
        {"ref": 8, "state": "draft", "modified": 1700000200, "basket": {"rows": []}},
        {"ref": 9, "state": "void", "modified": 1700000300, "basket": {"rows": []}},
    ]}
    events = order_events(page, poll)
    assert [(e.event_id, e.kind) for e in events] == [("7:paid", OrderEventKind.CREATED),
                                                      ("9:void", OrderEventKind.CANCELLED)]
    assert events[0].lines == (OrderLine("SHEET-1", 2), OrderLine("", -1))   # unreadable: kept, for the dead letters
    assert next_cursor(page, poll, "1700000000") == "1700000300"
    assert next_cursor({"data": []}, poll, "1700000000") == "1700000000"


def test_a_timestamp_cursor_starts_lookback_ago_and_a_page_token_starts_at_the_beginning() -> None:
    assert first_cursor(declaration(OPTIONS, "x").orders, now=10_000) == "9400"
    iso = options(orders__cursor={"kind": "timestamp", "param": "since", "next": "x", "lookback_s": 60})
    assert first_cursor(declaration(iso, "x").orders, now=1_767_225_660) == "2026-01-01T00:00:00Z"
    token = options(orders__cursor={"kind": "page_token", "param": "page", "next": "next"})
    assert first_cursor(declaration(token, "x").orders) is None


def test_more_pages_follows_the_partner_or_a_full_page_but_never_a_cursor_that_did_not_move() -> None:
    poll = declaration(OPTIONS, "x").orders
    assert more_pages({}, poll, 50, 50, moved=True)
    assert not more_pages({}, poll, 50, 50, moved=False)
    assert not more_pages({}, poll, 49, 50, moved=True)


@pytest.mark.parametrize(("changes", "named"), [
    ({"auth__type": "basic"}, "partners.shop.options.auth.type must be one of api_key, bearer"),
    ({"push__item": {"sku": "{sku}", "qty": "{qty}"}}, "partners.shop.options.push.item uses {qty}"),
    ({"push__path": "/stock/{sku}"}, "partners.shop.options.push.batch_size must be 1"),
    ({"orders__sku": "product..code"}, "partners.shop.options.orders.sku: 'product..code' is not JMESPath"),
    ({"orders__cursor": {"kind": "offset", "param": "p", "next": "n"}}, "partners.shop.options.orders.cursor.kind"),
    ({"orders__statuses": {"shipped_out": ["x"]}}, "partners.shop.options.orders.statuses.shipped_out"),
    ({"orders__params": {"since": "{last_seen}"}}, "partners.shop.options.orders.params uses {last_seen}"),
    ({"limits": {"rate": 0}}, "partners.shop.options.limits.rate must be a number above 0"),
    ({"retry": {"statuses": [200]}}, "partners.shop.options.retry.statuses must be a list of HTTP statuses"),
])
def test_a_mistake_in_the_declaration_stops_the_start_naming_its_key(changes: dict[str, Any], named: str) -> None:
    with pytest.raises(PartnerConfigError) as raised:
        partners({"shop": {"kind": "rest", "base_url": "https://shop.example", "options": options(**changes)}}, {})
    assert named in str(raised.value)


def test_a_missing_part_is_named() -> None:
    broken = options()
    del broken["orders"]["lines"]
    with pytest.raises(RestConfigError, match=r"partners\.shop\.options\.orders\.lines is required"):
        declaration(broken, "partners.shop.options")
