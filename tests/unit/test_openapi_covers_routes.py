"""The OpenAPI document names every REST route the app serves, with its methods."""

from __future__ import annotations

from starlette.routing import Route

from web import api_accounts, api_alerts, api_catalog, api_dead_letters, api_orders, api_partners, api_stock
from web.openapi import openapi_document


def test_every_rest_route_and_method_is_in_the_openapi_document() -> None:
    paths = openapi_document()["paths"]
    for module in (api_catalog, api_stock, api_orders, api_partners, api_alerts, api_dead_letters, api_accounts):
        for route in module.routes:
            assert isinstance(route, Route)
            assert route.path in paths, route.path
            for method in route.methods or ():
                if method != "HEAD":
                    assert method.lower() in paths[route.path], (route.path, method)


def test_every_operation_names_the_role_it_needs_as_the_role_table_does() -> None:
    paths = openapi_document()["paths"]
    create_user = paths["/api/v1/users"]["post"]
    assert create_user["x-threadcount-role"] == "admin" and "403" in create_user["responses"]
    assert paths["/api/v1/stock/receipts"]["post"]["x-threadcount-role"] == "clerk"
    assert paths["/api/v1/orders"]["get"]["x-threadcount-role"] == "viewer"
    assert "needs the role `manager`" in paths["/api/v1/orders/{id}/cancel"]["post"]["description"].lower()
    for path, operations in paths.items():
        for method, op in operations.items():
            assert path in ("/healthz", "/readyz", "/api/v1/openapi.json") or "x-threadcount-role" in op, (method, path)
