"""The Shopify simulator's REST Admin endpoints: locations, products and inventory levels, orders
(listed, one by one, cancelled), with Shopify's cursor paging (page_info, a Link to the next page)
and `fields`. The simulator checks the token and the call limit before these run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulators.http import opaque_token, read_opaque_token
from simulators.shopify_wire import CANCEL_REASONS, MOST_LEVEL_ITEMS, MOST_PER_PAGE, gid, read_time, shop_time

if TYPE_CHECKING:
    from simulators.shopify import ShopifySimulator

Rows = Callable[[Mapping[str, str]], list[dict[str, Any]]]
SHOP_UTC_OFFSET = -300   # the shop's time zone (New York, winter): Shopify stamps orders in it


class RestApi:
    def __init__(self, shop: ShopifySimulator):
        self._shop = shop

    async def locations(self, _request: web.Request) -> web.Response:
        return web.json_response({"locations": [
            {**place, "admin_graphql_api_id": gid("Location", place["id"])} for place in self._shop.locations
        ]})

    async def products(self, request: web.Request) -> web.Response:
        self._shop.stats["rest_products"] += 1   # deprecated: at most 100 variants a product
        return self._page(request, "products", lambda _filters: self._shop.products, ())

    async def inventory_levels(self, request: web.Request) -> web.Response:
        try:
            items = _ids(request.query.get("inventory_item_ids"))
            places = _ids(request.query.get("location_ids"))
        except ValueError:
            return errors_response(400, {"inventory_item_ids": ["must be comma-separated ids"]})
        if items is None and places is None:
            return errors_response(422, "inventory_item_ids or location_ids: one of them is required")
        if items is not None and len(items) > MOST_LEVEL_ITEMS:
            return errors_response(422, {"inventory_item_ids": [f"at most {MOST_LEVEL_ITEMS} ids"]})
        shop = self._shop
        known = [int(location["id"]) for location in shop.locations]
        levels = [
            {"inventory_item_id": item, "location_id": location, "available": shop.level(item, location),
             "updated_at": shop_time(shop.clock.time(), SHOP_UTC_OFFSET),
             "admin_graphql_api_id": f"gid://shopify/InventoryLevel/{location}?inventory_item_id={item}"}
            for item in (items if items is not None else list(shop.item_sku)) if item in shop.item_sku
            for location in (places if places is not None else known)
            if location in known and shop.stocked_at(item, location)
        ]
        return web.json_response({"inventory_levels": levels[:_limit(request.query) or MOST_PER_PAGE]})

    async def orders(self, request: web.Request) -> web.Response:
        return self._page(request, "orders", self._order_rows, ("status", "updated_at_min"))

    def _order_rows(self, filters: Mapping[str, str]) -> list[dict[str, Any]]:
        status = filters.get("status", "open")
        if status not in ("open", "closed", "cancelled", "any"):
            raise ValueError("status: must be open, closed, cancelled or any")
        since = read_time(filters["updated_at_min"]) if "updated_at_min" in filters else 0.0
        if since is None:
            raise ValueError("updated_at_min: is not a valid ISO 8601 time")
        return [order for _, order in sorted(self._shop.rest_orders.items())
                if (read_time(order["updated_at"]) or 0.0) >= since and _has_status(order, status)]

    async def order(self, request: web.Request) -> web.Response:
        order = self._shop.rest_orders.get(int(request.match_info["order_id"]))
        if order is None:
            return errors_response(404, "Not Found")
        return web.json_response({"order": _project(order, request.query.get("fields"))})

    async def cancel(self, request: web.Request) -> web.Response:
        order = self._shop.rest_orders.get(int(request.match_info["order_id"]))
        if order is None:
            return errors_response(404, "Not Found")
        try:
            reason = (await request.json() if request.can_read_body else {}).get("reason", "other")
        except (ValueError, AttributeError):
            return errors_response(400, "body must be a JSON object")
        if reason not in CANCEL_REASONS:
            return errors_response(422, {"reason": ["is not included in the list"]})
        if order["cancelled_at"]:
            return errors_response(422, {"base": ["Order has already been cancelled"]})
        if order["fulfillment_status"] == "fulfilled":
            return errors_response(422, {"base": ["Cannot cancel an order that has been fulfilled"]})
        self._shop.cancel_order(order, reason)
        return web.json_response({"order": order})

    def _page(self, request: web.Request, key: str, rows_for: Rows,
              filter_names: tuple[str, ...]) -> web.Response:
        """Shopify's cursor paging: filters only on the first request, then page_info (which carries
        them) with at most limit and fields beside it; Link names the next page."""
        query = request.query
        limit = _limit(query)
        if limit is None:
            return errors_response(400, {"limit": [f"must be between 1 and {MOST_PER_PAGE}"]})
        state: dict[str, Any] = {"filters": {name: query[name] for name in filter_names if name in query}}
        if "page_info" in query:
            extra = sorted(set(query) - {"page_info", "limit", "fields"})
            found = _read_page_info(query["page_info"])
            if extra or found is None or not isinstance(found.get("after"), int):
                detail = f"{', '.join(extra)} cannot be passed with page_info" if extra else "Invalid value."
                return errors_response(400, {"page_info": [detail]})
            state = found
        try:
            rows = rows_for(state.get("filters") or {})
        except ValueError as exc:
            return errors_response(400, str(exc))
        later = [row for row in rows if row["id"] > (state.get("after") or 0)]
        window = later[:limit]
        body = {key: [_project(row, query.get("fields")) for row in window]}
        if len(later) <= limit:
            return web.json_response(body)
        # Only the next page is linked here; Shopify also links the previous one, which we never follow.
        return web.json_response(body, headers={"Link": _link(request, {**state, "after": window[-1]["id"]})})


def errors_response(status: int, errors: Any) -> web.Response:
    return web.json_response({"errors": errors}, status=status)


def _ids(text: str | None) -> list[int] | None:
    return None if text is None else [int(part) for part in text.split(",") if part.strip()]


def _limit(query: Mapping[str, str]) -> int | None:
    try:
        limit = int(query.get("limit", "50"))
    except ValueError:
        return None
    return limit if 1 <= limit <= MOST_PER_PAGE else None


def _has_status(order: Mapping[str, Any], status: str) -> bool:
    return {"open": not order["closed_at"] and not order["cancelled_at"], "closed": bool(order["closed_at"]),
            "cancelled": bool(order["cancelled_at"]), "any": True}[status]


def _project(row: Mapping[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return dict(row)
    wanted = {name.strip() for name in fields.split(",")}
    return {name: value for name, value in row.items() if name in wanted}


def _link(request: web.Request, state: Mapping[str, Any]) -> str:
    query = {"limit": request.query.get("limit", "50"), "page_info": opaque_token(state)}
    if "fields" in request.query:
        query["fields"] = request.query["fields"]
    return f'<{request.url.with_query(query)}>; rel="next"'


def _read_page_info(token: str) -> dict[str, Any] | None:
    try:
        state = read_opaque_token(token)
    except ValueError:
        return None
    return state if isinstance(state, dict) else None
