"""The OpenAPI document names every REST route the app serves, with its methods."""

from __future__ import annotations

from starlette.routing import Route

from web import api_alerts, api_catalog, api_orders, api_partners, api_stock
from web.openapi import openapi_document


def test_every_rest_route_and_method_is_in_the_openapi_document() -> None:
    paths = openapi_document()["paths"]
    for module in (api_catalog, api_stock, api_orders, api_partners, api_alerts):
        for route in module.routes:
            assert isinstance(route, Route)
            assert route.path in paths, route.path
            for method in route.methods or ():
                if method != "HEAD":
                    assert method.lower() in paths[route.path], (route.path, method)
