"""Which role each route needs, in one table, and the guard that holds every route to it.

`ROLES` names every route of the app by (method, path template). A route whose action is chosen by
a path parameter (`/controls/{action}`) names the role per value with `By`; a value the table does
not know needs `admin` (the handler then answers 404). `guard` wraps every Route of the app at
start and refuses to build an app with a route the table does not name (PUBLIC ones aside).

The caller is a Principal: for /api/ set by BearerAuth (web/auth.py) from the bearer key, for the
dashboard read from the server-side session (web/dashboard/session.py). A role below the route's
gets 403 `forbidden` (the dashboard: its error page, or only the message for htmx) and nothing runs."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from service.principals import Role
from web.problems import ApiError

V, C, M, A = Role.VIEWER, Role.CLERK, Role.MANAGER, Role.ADMIN


@dataclass(frozen=True)
class By:
    """The role depends on one path parameter's value."""

    param: str
    roles: Mapping[str, Role]

    def role(self, params: Mapping[str, Any]) -> Role:
        return self.roles.get(str(params.get(self.param, "")), A)

    @property
    def least(self) -> Role:
        return min(self.roles.values(), key=lambda role: role.rank)


Need = Role | By

PUBLIC = frozenset({
    ("GET", "/"), ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/api/v1/openapi.json"),
    ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"),
})

ROLES: dict[tuple[str, str], Need] = {
    # --- REST -----------------------------------------------------------------------------------
    ("GET", "/api/v1/version"): V,
    ("GET", "/api/v1/locations"): V,
    ("POST", "/api/v1/locations"): M,
    ("POST", "/api/v1/products"): M,
    ("GET", "/api/v1/products/{sku}"): V,
    ("POST", "/api/v1/kits"): M,
    ("POST", "/api/v1/stock/receipts"): C,
    ("POST", "/api/v1/stock/adjustments"): C,
    ("POST", "/api/v1/stock/transfers"): C,
    ("GET", "/api/v1/variants/{sku}/stock"): V,
    ("GET", "/api/v1/ledger"): V,
    ("GET", "/api/v1/ledger/check"): V,
    ("POST", "/api/v1/orders"): M,
    ("GET", "/api/v1/orders"): V,
    ("GET", "/api/v1/orders/{id}"): V,
    ("POST", "/api/v1/orders/{id}/fulfill"): C,
    ("POST", "/api/v1/orders/{id}/cancel"): M,
    ("POST", "/api/v1/holds"): M,  # as placing an order
    ("GET", "/api/v1/holds/{id}"): V,
    ("POST", "/api/v1/holds/{id}/release"): M,
    ("GET", "/api/v1/partners"): V,
    ("GET", "/api/v1/partners/{id}/listings"): V,
    ("POST", "/api/v1/partners/{id}/reconcile"): M,
    ("POST", "/api/v1/partners/{id}/retry"): M,
    ("GET", "/api/v1/partners/{id}/sync-log"): V,
    ("GET", "/api/v1/jobs/{id}"): V,
    ("GET", "/api/v1/partners/{id}/dead-letters"): V,
    ("POST", "/api/v1/partners/{id}/dead-letters/{letter_id}/retry"): M,
    ("GET", "/api/v1/alerts"): V,
    ("GET", "/api/v1/notifications"): V,
    ("POST", "/api/v1/users"): A,
    ("GET", "/api/v1/users"): A,
    ("PATCH", "/api/v1/users/{username}"): A,
    ("POST", "/api/v1/api-keys"): A,
    ("GET", "/api/v1/api-keys"): A,
    ("DELETE", "/api/v1/api-keys/{id}"): A,
    ("GET", "/metrics"): V,
    # --- dashboard ------------------------------------------------------------------------------
    ("GET", "/stock"): V,
    ("GET", "/stream"): V,
    ("GET", "/controls"): V,
    ("POST", "/controls/{action}"): By("action", {"receive": C, "adjust": C, "transfer": C, "reorder": M}),
    ("GET", "/products/new"): V,
    ("POST", "/products/new"): M,
    ("GET", "/kits/new"): V,
    ("POST", "/kits/new"): M,
    ("GET", "/bulk"): V,
    ("GET", "/bulk/catalog.csv"): V,
    ("GET", "/bulk/stock.csv"): V,
    ("POST", "/bulk/{kind:str}"): By("kind", {"stocktake": C, "catalog": M, "kits": M}),
    ("GET", "/bulk/jobs/{id:str}"): V,
    ("GET", "/bulk/jobs/{id:str}/rejected.csv"): V,
    ("GET", "/orders"): V,
    ("GET", "/orders/{id:str}"): V,
    ("POST", "/orders/{id:str}/{action:str}"): By("action", {"fulfil": C, "cancel": M}),
    ("GET", "/holds"): V,
    ("GET", "/reports"): V,
    ("GET", "/reports/{name}.csv"): V,
    ("GET", "/alerts"): V,
    ("POST", "/alerts/{alert_id:int}/acknowledge"): M,
    ("POST", "/alerts/test-message"): M,
    ("POST", "/alerts/notification-rules"): M,
    ("GET", "/partners"): V,
    ("POST", "/partners/{partner_id}/retry"): M,
    ("POST", "/partners/{partner_id}/reconcile"): M,
    ("POST", "/partners/{partner_id}/dead-letters/{letter_id}/retry"): M,
    ("GET", "/users"): A,
    ("POST", "/users"): A,
    ("POST", "/users/{username}"): A,
    ("POST", "/keys"): A,
    ("POST", "/keys/{id:int}/revoke"): A,
}

Handler = Callable[[Request], Awaitable[Response]]
Resolve = Callable[[Request], Awaitable[Any]]  # the caller's Principal, or None (no session)


def methods_of(route: Route) -> list[str]:
    return sorted((route.methods or {"GET"}) - {"HEAD"})


def need_of(method: str, path: str) -> Need | None:
    return ROLES.get((method, path))


def least_role(need: Need) -> Role:
    return need.least if isinstance(need, By) else need


def guard(routes: Sequence[BaseRoute], principal: Resolve, unknown: Handler) -> list[BaseRoute]:
    """Every Route wrapped to check its role; `unknown` answers a caller without a principal (the
    dashboard's redirect to /login: the API's middleware has already refused such a caller)."""
    guarded: list[BaseRoute] = []
    for route in routes:
        if not isinstance(route, Route):
            guarded.append(route)
            continue
        methods = methods_of(route)
        if all((method, route.path) in PUBLIC for method in methods):
            guarded.append(route)
            continue
        needs = {method: need_of(method, route.path) for method in methods}
        missing = [method for method, need in needs.items() if need is None]
        if missing:
            raise LookupError(f"{'/'.join(missing)} {route.path}: no role declared in web/roles.py ROLES")
        wrapped = _checked(route.endpoint, route.path, {m: n for m, n in needs.items() if n is not None},
                           principal, unknown)
        guarded.append(Route(route.path, wrapped, methods=methods, name=route.name))
    return guarded


def _checked(endpoint: Any, path: str, needs: Mapping[str, Need], principal: Resolve,
             unknown: Handler) -> Handler:
    @functools.wraps(endpoint)
    async def checked(request: Request) -> Response:
        who = await principal(request)
        if who is None:
            return await unknown(request)
        method = "GET" if request.method == "HEAD" else request.method
        need = needs[method]
        role = need.role(request.path_params) if isinstance(need, By) else need
        if not who.may(role):
            raise forbidden(method, path, role, who.role)
        response: Response = await endpoint(request)
        return response

    return checked


def forbidden(method: str, path: str, needed: Role, have: Role) -> ApiError:
    return ApiError(403, "forbidden", f"role: {method} {path} needs the role {needed.value} or above; "
                                      f"yours is {have.value}")
