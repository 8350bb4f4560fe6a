"""The `/_sim/*` control surface every simulator serves beside the partner's API (API.md): place
and move orders, read and hand-edit the shown quantities, inject faults, read the counters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from simulators.http import control_error

if TYPE_CHECKING:
    from simulators.base import Simulator

PREFIX = "/_sim/"


@dataclass
class Faults:
    """What the control surface can break: a share of failing requests, added latency, or all down."""

    error_rate: float = 0.0
    latency_ms: int = 0
    down: bool = False


class ControlSurface:
    def __init__(self, sim: Simulator):
        self._sim = sim

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/_sim/orders", self._place_order),
            web.post("/_sim/orders/{order_id}/{action:ship|cancel}", self._move_order),
            web.get("/_sim/listings", self._listings),
            web.put("/_sim/listings", self._edit_listings),
            web.post("/_sim/faults", self._faults),
            web.get("/_sim/stats", self._stats),
        ]

    async def _place_order(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            sku, quantity = str(data["sku"]), int(data.get("quantity", 1))
        except Exception:
            return control_error(400, "body must be JSON like {\"sku\": \"...\", \"quantity\": 1}")
        if sku not in self._sim.listings:
            return control_error(404, f"sku: {sku!r} is not listed on this simulator")
        if quantity < 1:
            return control_error(422, "quantity: must be at least 1")
        order = await self._sim.record_order(sku, quantity)
        return web.json_response({"order_id": order.order_id})

    async def _move_order(self, request: web.Request) -> web.Response:
        order_id = request.match_info["order_id"]
        order = self._sim.orders.get(order_id)
        if order is None:
            return control_error(404, f"order_id: no order {order_id!r}")
        status = "shipped" if request.match_info["action"] == "ship" else "cancelled"
        try:
            await self._sim.change_order(order, status)
        except NotImplementedError:
            return control_error(501, f"this partner cannot mark orders {status}")
        return web.json_response({"order_id": order.order_id, "status": order.status})

    async def _listings(self, _request: web.Request) -> web.Response:
        return web.json_response(self._sim.listings)

    async def _edit_listings(self, request: web.Request) -> web.Response:
        """A hand edit at the partner (what reconciliation must find)."""
        try:
            edits = {str(sku): int(shown) for sku, shown in (await request.json()).items()}
        except Exception:
            return control_error(400, "body must be a JSON object {\"SKU\": quantity}")
        unknown = [sku for sku in edits if sku not in self._sim.listings]
        if unknown:
            return control_error(404, f"not listed here: {', '.join(unknown)}")
        self._sim.listings.update(edits)
        return web.json_response(self._sim.listings)

    async def _faults(self, request: web.Request) -> web.Response:
        try:
            data = await request.json()
            self._sim.faults = Faults(error_rate=float(data.get("error_rate", 0.0)),
                                      latency_ms=int(data.get("latency_ms", 0)),
                                      down=bool(data.get("down", False)))
        except Exception:
            return control_error(400, "body must be {\"error_rate\": 0..1, \"latency_ms\": int, "
                                      "\"down\": bool}")
        return web.json_response(self._sim.faults.__dict__)

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response(dict(self._sim.stats))
