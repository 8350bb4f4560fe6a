"""eBay's Trading API over SOAP for one seller: a trimmed WSDL at `GET /wsdl` (and `/wsapi?wsdl`),
SOAP 1.1 calls at `POST /wsapi?callname=...&siteid=...&appid=...&version=...` (ReviseInventoryStatus
with at most four InventoryStatus a call, GetOrders, GetItem), the auth token in the SOAP header
`RequesterCredentials/eBayAuthToken`, the short-duration limit on ReviseInventoryStatus (6,000 calls
per seller per 15 s, a sliding window; over it error 518 until the window clears), and a signed
FixedPriceTransaction Platform Notification for every purchase.

Each of our SKUs is one fixed-price listing (an ItemID) tracked by SKU. A purchase is an Active order
(awaiting payment); shipping it makes it Completed with a ShippedTime, cancelling it Cancelled. GetItem
reports eBay's Quantity (what is left plus what sold) beside SellingStatus/QuantitySold.

`options`: revise_limit {"calls", "window_s"}, min_version (default 1100), seller (the user id),
variations (bool: lines name their SKU under Variation, as a multi-variation listing does).
"""

from __future__ import annotations

import collections
import hashlib
import secrets
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import ClassVar

from aiohttp import web

from simulators.base import SimConfig, SimOrder, Simulator
from simulators.ebay_orders import fixed_price_transaction, order_query, orders_page
from simulators.ebay_wire import (
    AUTH_INVALID,
    MOST_INVENTORY_STATUSES,
    USAGE_LIMIT,
    EbayError,
    RequestRefused,
    SoapFault,
    SoapRequest,
    answer,
    fault,
    invalid_input,
    no_listing,
    q,
    read_envelope,
    sub,
    zero_quantity_warning,
)

WSDL = Path(__file__).with_name("ebay_trading.wsdl")
XML = "text/xml"


class SlidingWindow:
    """eBay counts a short-duration limit over the last `window` seconds, not as a refilling bucket."""

    def __init__(self, calls: int, window: float):
        self.calls, self.window = calls, window
        self._times: collections.deque[float] = collections.deque()

    def admit(self, now: float) -> bool:
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        if len(self._times) >= self.calls:
            return False
        self._times.append(now)
        return True


class EbaySimulator(Simulator):
    kind: ClassVar[str] = "ebay"

    def __init__(self, config: SimConfig):
        super().__init__(config)
        options = config.options
        limit = options.get("revise_limit") or {}
        self.revise_window = SlidingWindow(int(limit.get("calls", 6000)), float(limit.get("window_s", 15.0)))
        self.min_version = int(options.get("min_version", 1100))
        self.seller = str(options.get("seller", "threadcount_linens"))
        self.variations = bool(options.get("variations", False))
        self.item_ids = {sku: _item_id(config.partner_id, sku) for sku in config.skus}
        self.sku_of = {item_id: sku for sku, item_id in self.item_ids.items()}
        self.sold: collections.Counter[str] = collections.Counter()

    @classmethod
    def demo_credentials(cls, partner_id: str) -> dict[str, str]:
        return {"auth_token": f"v^1.1#i^1#r^1#p^3#I^3#f^0#t^{secrets.token_urlsafe(96)}",
                "app_id": f"Threadco-linens-PRD-{secrets.token_hex(5)}-{secrets.token_hex(4)}",
                "dev_id": str(uuid.uuid4()), "cert_id": f"PRD-{secrets.token_hex(12)}"}

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/wsdl", self._wsdl), web.get("/wsapi", self._wsdl), web.post("/wsapi", self._call)]

    # --- errors --------------------------------------------------------------------------------

    def error_response(self, status: int, message: str) -> web.Response:
        return web.Response(body=fault("soapenv:Server", message), status=status, content_type=XML)

    def throttled_response(self, retry_after: float) -> web.Response:
        return self._xml(answer("ReviseInventoryStatus", [USAGE_LIMIT]))

    def _xml(self, body: bytes, status: int = 200) -> web.Response:
        return web.Response(body=body, status=status, content_type=XML, charset="utf-8")

    # --- the API -------------------------------------------------------------------------------

    async def _wsdl(self, request: web.Request) -> web.Response:
        if request.path == "/wsapi" and "wsdl" not in request.query:
            return self.error_response(405, "POST SOAP requests to /wsapi")
        return self._xml(WSDL.read_bytes())

    async def _call(self, request: web.Request) -> web.Response:
        try:
            soap = read_envelope(await request.read())
        except SoapFault as exc:
            self.stats["soap_faults"] += 1
            return self._xml(fault(exc.code, str(exc)), 500)
        except RequestRefused as exc:
            return self._refused(_call_name(request), exc.error)
        refused = self._url_refusal(request, soap)
        if refused is not None:
            return refused
        if soap.token != self.config.credentials["auth_token"]:
            self.stats["auth_refused"] += 1
            return self._refused(soap.call, AUTH_INVALID)
        handler = {"ReviseInventoryStatus": self._revise, "GetOrders": self._get_orders,
                   "GetItem": self._get_item}[soap.call]
        try:
            return handler(soap)
        except RequestRefused as exc:
            return self._refused(soap.call, exc.error)

    def _refused(self, call: str, error: EbayError) -> web.Response:
        self.stats[f"refused:{error.code}"] += 1
        return self._xml(answer(call, [error]))

    def _url_refusal(self, request: web.Request, soap: SoapRequest) -> web.Response | None:
        """eBay routes a SOAP call by the URL: callname must name the body's call, appid the app."""
        query = request.query
        if query.get("callname") != soap.call:
            return self._xml(fault("soapenv:Client", f"callname in the URL must be {soap.call}"), 500)
        if query.get("appid") != self.config.credentials["app_id"]:
            return self._xml(fault("soapenv:Client", "appid in the URL names no application"), 500)
        if not query.get("siteid", "").isdigit():
            return self._refused(soap.call, invalid_input("siteid"))
        version = query.get("version", "")
        if not version.isdigit() or int(version) < self.min_version:
            return self._refused(soap.call, EbayError(
                "37", "Input data is invalid.",
                f"Version {version or '(none)'} is not supported; use {self.min_version} or later.",
                params=("Version",)))
        return None

    def _revise(self, soap: SoapRequest) -> web.Response:
        self.stats["calls:ReviseInventoryStatus"] += 1
        if not self.revise_window.admit(self.clock.monotonic()):
            self.stats["rate_limited"] += 1
            self.stats["rate_limited:ReviseInventoryStatus"] += 1
            return self._xml(answer("ReviseInventoryStatus", [USAGE_LIMIT]))
        statuses = soap.fields.get("InventoryStatus", [])
        if not 1 <= len(statuses) <= MOST_INVENTORY_STATUSES:
            raise RequestRefused(EbayError(
                "37", "Input data is invalid.",
                f"Input data for tag <InventoryStatus> is invalid: between 1 and {MOST_INVENTORY_STATUSES} "
                f"are allowed in one call, not {len(statuses)}.", params=("InventoryStatus",)))
        errors: list[EbayError] = []
        applied: list[ET.Element] = []
        for status in statuses:
            outcome = self._apply(status)
            if isinstance(outcome, EbayError):
                errors.append(outcome)
            else:
                applied.append(outcome)
                if outcome.findtext(q("Quantity")) == "0":
                    errors.append(zero_quantity_warning(outcome.findtext(q("SKU")) or ""))
        failed = any(e.severity == "Error" for e in errors)
        ack = ("PartialFailure" if applied else "Failure") if failed else None
        fees = [self._fees(s.findtext(q("ItemID")) or "") for s in applied]
        return self._xml(answer("ReviseInventoryStatus", errors, ack, [*applied, *fees]))

    def _apply(self, status: ET.Element) -> ET.Element | EbayError:
        sku, item_id = status.findtext(q("SKU")), status.findtext(q("ItemID"))
        quantity = status.findtext(q("Quantity"))
        if sku is None and item_id is None:
            return invalid_input("InventoryStatus.SKU")
        if sku is None:
            sku = self.sku_of.get(item_id or "")
        if sku is None or sku not in self.item_ids or (item_id and item_id != self.item_ids[sku]):
            return no_listing(sku or item_id or "")
        try:
            shown = int((quantity or "").strip())
        except ValueError:
            return invalid_input("InventoryStatus.Quantity")
        if shown < 0:
            return invalid_input("InventoryStatus.Quantity")
        self.listings[sku] = shown
        self.stats["quantities_revised"] += 1
        echoed = ET.Element(q("InventoryStatus"))
        sub(echoed, "SKU", sku)
        sub(echoed, "ItemID", self.item_ids[sku])
        sub(echoed, "Quantity", shown)
        return echoed

    def _fees(self, item_id: str) -> ET.Element:
        fees = ET.Element(q("Fees"))
        sub(fees, "ItemID", item_id)
        fee = sub(fees, "Fee", None)
        sub(fee, "Name", "ListingFee")
        sub(fee, "Fee", "0.0").set("currencyID", "USD")
        return fees

    def _get_orders(self, soap: SoapRequest) -> web.Response:
        self.stats["calls:GetOrders"] += 1
        query = order_query(soap, self.clock.time())
        parts = orders_page(list(self.orders.values()), query, self.item_ids)
        return self._xml(answer("GetOrders", [], parts=parts))

    def _get_item(self, soap: SoapRequest) -> web.Response:
        self.stats["calls:GetItem"] += 1
        sku, item_id = soap.text("SKU"), soap.text("ItemID")
        sku = sku if sku is not None else self.sku_of.get(item_id or "")
        if sku is None or sku not in self.item_ids:
            raise RequestRefused(no_listing(sku or item_id or ""))
        item = ET.Element(q("Item"))
        sub(item, "ItemID", self.item_ids[sku])
        sub(item, "Quantity", self.listings[sku] + self.sold[sku])
        selling = sub(item, "SellingStatus", None)
        sub(selling, "QuantitySold", self.sold[sku])
        sub(selling, "ListingStatus", "Active")
        sub(item, "Title", sku)
        sub(item, "SKU", sku)
        sub(item, "InventoryTrackingMethod", "SKU")
        return self._xml(answer("GetItem", [], parts=[item]))

    # --- shoppers and notifications ------------------------------------------------------------

    async def record_order(self, sku: str, quantity: int) -> SimOrder:
        at = self.clock.time()
        number = self.next_id()
        # eBay's order ids since 2019 look like 12-34567-89012
        tail = _digits(self.config.partner_id, sku, number, size=5)
        order_id = f"{number % 100:02d}-{10000 + number:05d}-{tail}"
        order = SimOrder(order_id, sku, quantity, "Active", at, at,
                         {"transaction_id": _digits(self.config.partner_id, "txn", number, size=12),
                          "buyer": f"buyer_{number}", "variation": self.variations, "shipped_at": None})
        self.orders[order.order_id] = order
        self.sell(sku, quantity)
        self.sold[sku] += quantity
        self.stats["orders"] += 1
        self._notify(order)
        return order

    async def change_order(self, order: SimOrder, status: str) -> None:
        now = self.clock.time()
        if status == "shipped" and order.status == "Active":
            order.status, order.extra["shipped_at"] = "Completed", now
        elif status == "cancelled" and order.status == "Active":
            order.status = "Cancelled"
            self.listings[order.sku] += order.quantity   # eBay puts a cancelled purchase back on sale
            self.sold[order.sku] -= order.quantity
        else:
            return
        order.updated_at = now

    def _notify(self, order: SimOrder) -> None:
        if not self.config.webhook_url:
            return
        creds = self.config.credentials
        body = fixed_price_transaction(order, self.item_ids[order.sku], self.seller, self.clock.time(),
                                       (creds["dev_id"], creds["app_id"], creds["cert_id"]))
        self.stats["notifications"] += 1
        self.deliver(body, _notification_headers)


def _notification_headers(_attempt_at: float) -> dict[str, str]:
    return {"Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": '"http://developer.ebay.com/notification/FixedPriceTransaction"'}


def _call_name(request: web.Request) -> str:
    return request.query.get("callname") or "ReviseInventoryStatus"


def _digits(*parts: object, size: int = 12) -> str:
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()
    return str(int(digest, 16))[-size:].rjust(size, "1")


def _item_id(partner_id: str, sku: str) -> str:
    return "1" + _digits(partner_id, "item", sku, size=11)
