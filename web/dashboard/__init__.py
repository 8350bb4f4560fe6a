"""The managers' dashboard: server-rendered pages (Jinja2 + htmx), live through server-sent events.

`routes` is every dashboard route; web/app.py mounts them beside the REST API, with the session
middleware and the static files. `build_environment` makes the one Jinja2 environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup, escape
from starlette.routing import BaseRoute

from inventory.commands import OrderStatus
from store.queries import iso

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
VENDOR_FILES = {  # the npm packages' files a page may load, by a short name
    "htmx": "/static/vendor/htmx.org/htmx.min.js",
    "htmx-sse": "/static/vendor/htmx-ext-sse/sse.min.js",
    "chart.js": "/static/vendor/chart.js/chart.umd.min.js",
}

@pass_context
def csrf_input(context: Any) -> Markup:
    """The hidden CSRF field every dashboard form carries."""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(context.get("csrf_token", ""))


def vendor_script(name: str) -> Markup:
    return Markup('<script src="{}"></script>').format(VENDOR_FILES[name])


def when(timestamp: float | None) -> str:
    return "" if timestamp is None else iso(timestamp).replace("T", " ")[:19]


def build_environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(csrf_input=csrf_input, vendor_script=vendor_script, OrderStatus=OrderStatus,
                       can=lambda needed: False)  # render() gives each page the caller's own `can`
    env.filters.update(when=when, e=escape)
    return env


def _routes() -> list[BaseRoute]:
    # imported here, not at the top: each page module imports web.dashboard.session, this package
    from web.dashboard import (
        alerts,
        controls,
        csv_io,
        dead_letters,
        holds,
        kits,
        login,
        orders,
        partners,
        products,
        reports,
        stock,
        stream,
        users_page,
    )

    pages = (login, stock, controls, products, kits, csv_io, orders, holds, stream, reports, alerts, partners,
             dead_letters, users_page)
    return [route for page in pages for route in page.routes]


routes = _routes()
