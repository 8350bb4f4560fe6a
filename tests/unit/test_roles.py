"""The role table: every route of the app declares a role, the guard refuses to build an app with
one that does not, roles nest, and a bearer that is not one of our keys costs no look-up."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from service.accounts import KEY_PREFIX, looks_like_key
from service.config import load_settings
from service.principals import ADMIN_TOKEN, Principal, Role
from service.runtime import Runtime
from web import app as web_app
from web.roles import PUBLIC, ROLES, By, guard, methods_of


def the_app(tmp_path: Path) -> web_app.Starlette:
    return web_app.create_app(Runtime(load_settings(None, {"THREADCOUNT_DATA_DIR": str(tmp_path)})))


def test_every_route_of_the_app_declares_its_role_and_the_table_names_no_route_that_is_gone(
        tmp_path: Path) -> None:
    served = set()
    for route in the_app(tmp_path).routes:
        if isinstance(route, Route):
            for method in methods_of(route):
                served.add((method, route.path))
    undeclared = sorted(served - set(ROLES) - PUBLIC)
    assert undeclared == []
    assert sorted(set(ROLES) - served) == []


async def _ok(request: Request) -> Response:
    return PlainTextResponse("ok")


async def _nobody(request: Request) -> None:
    return None


def test_an_app_with_a_route_of_no_declared_role_is_not_built() -> None:
    with pytest.raises(LookupError, match="POST /api/v1/secret: no role declared"):
        guard([Route("/api/v1/secret", _ok, methods=["POST"])], _nobody, _ok)


def test_each_role_has_everything_of_the_ones_before_it() -> None:
    assert [role.value for role in Role] == ["viewer", "clerk", "manager", "admin"]
    assert Role.ADMIN.allows(Role.CLERK) and Role.CLERK.allows(Role.CLERK)
    assert not Role.VIEWER.allows(Role.CLERK) and not Role.MANAGER.allows(Role.ADMIN)
    assert Role.parse("manager") is Role.MANAGER and Role.parse("owner") is None and Role.parse(3) is None


def test_a_route_that_acts_by_a_path_parameter_names_the_role_per_value() -> None:
    controls = ROLES[("POST", "/controls/{action}")]
    assert isinstance(controls, By)
    assert controls.role({"action": "receive"}) is Role.CLERK
    assert controls.role({"action": "reorder"}) is Role.MANAGER
    assert controls.role({"action": "made-up"}) is Role.ADMIN  # unknown: the strictest (then a 404)


def test_the_environment_token_is_an_admin_named_admin_token() -> None:
    assert Principal("admin-token", Role.ADMIN) == ADMIN_TOKEN


@pytest.mark.parametrize("given", ["", "Bearer x", KEY_PREFIX + "short", "tc_" + "\u00e9" * 43,
                                   "xx_" + "a" * 43, KEY_PREFIX + "a" * 42 + "!"])
def test_a_bearer_that_is_not_one_of_our_keys_is_not_looked_up(given: str) -> None:
    assert not looks_like_key(given)


def test_a_key_as_we_make_it_is_looked_up() -> None:
    assert looks_like_key(KEY_PREFIX + "Ab-_" * 10 + "abc")


async def test_a_guarded_route_answers_403_forbidden_below_its_role_and_runs_at_it() -> None:
    from starlette.applications import Starlette

    from web.app import api_error
    from web.problems import ApiError

    who: dict[str, Principal] = {}

    async def principal(request: Request) -> Principal | None:
        return who.get("now")

    routes = guard([Route("/api/v1/stock/receipts", _ok, methods=["POST"])], principal, _ok)
    app = Starlette(routes=routes, exception_handlers={ApiError: api_error})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        who["now"] = Principal("vic", Role.VIEWER)
        refused = await client.post("/api/v1/stock/receipts")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        who["now"] = Principal("cleo", Role.CLERK)
        assert (await client.post("/api/v1/stock/receipts")).text == "ok"
