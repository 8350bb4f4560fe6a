"""Shopify's side of the Admin API wire: the API version it answers as, global ids, the shop's
timestamps, the webhook HMAC, the call limits, and what `inventorySetQuantities` accepts: the
input is checked as Shopify checks it and each refusal is a userError with Shopify's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from simulators.ratelimit import Quota
from simulators.shopify_schema import CHANGE_FROM_SINCE, COMPARE_GONE_SINCE, at_least

VERSION = "2026-04"   # the version the app's webhooks are written in
REST_LIMIT = Quota(2.0, 40.0)          # leaky bucket: 40 calls, leaking 2 a second (Standard plan)
GRAPHQL_LIMIT = Quota(100.0, 2000.0)   # cost points restored a second, and the bucket
MOST_PER_PAGE = 250
MOST_LEVEL_ITEMS = 50                  # inventory_item_ids in one inventory_levels.json call
MOST_QUANTITIES = 250                  # quantities in one inventorySetQuantities input
MOST_UNITS = 1_000_000_000
CANCEL_REASONS = ("customer", "inventory", "fraud", "declined", "other")
QUANTITY_NAMES = ("available", "on_hand")
SET_REASONS = frozenset((
    "correction", "cycle_count_available", "damaged", "other", "promotion", "quality_control", "received",
    "movement_created", "movement_updated", "movement_received", "movement_canceled", "restock",
    "reservation_created", "reservation_deleted", "reservation_updated", "safety_stock", "shrinkage"))


def gid(kind: str, number: int | str) -> str:
    return f"gid://shopify/{kind}/{number}"


def gid_of(kind: str, value: Any) -> int | None:
    """The number in a client's "gid://shopify/<kind>/<n>"; None when it is anything else."""
    head, _, number = str(value).rpartition("/") if isinstance(value, str) else ("", "", "")
    return int(number) if head == f"gid://shopify/{kind}" and number.isdigit() else None


def shop_time(seconds: float, utc_offset_minutes: int) -> str:
    """Shopify stamps times in the shop's zone to the second: 2026-01-15T10:00:00-05:00."""
    zone = timezone(timedelta(minutes=utc_offset_minutes)) if utc_offset_minutes else UTC
    return datetime.fromtimestamp(int(seconds), zone).isoformat(timespec="seconds")


def read_time(text: Any) -> float | None:
    """A client's ISO 8601 time (updated_at_min), or None when it is not one."""
    try:
        return datetime.fromisoformat(text).timestamp() if isinstance(text, str) and text else None
    except ValueError:
        return None


def hmac_header(app_secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: the base64 HMAC-SHA256 of the raw body, keyed by the app's secret."""
    return base64.b64encode(hmac.new(app_secret.encode(), body, hashlib.sha256).digest()).decode()


def set_quantities_cost(count: int) -> int:
    """What inventorySetQuantities costs here: 10 points, and one more per quantity."""
    return 10 + count


def _user_error(field: list[str] | None, code: str | None, message: str) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


class SetQuantities:
    """Shopify's checks on one inventorySetQuantities input against the shop, in one API version:
    `changes` are the (item, location, quantity) to apply, `errors` the userErrors that refuse the
    whole call. `stocked(item, location)` says whether the item has a level there, `mutable(item)`
    whether an app may change its stock (a fulfilment service's items may not)."""

    def __init__(self, known_items: Mapping[int, Any], known_locations: set[int],
                 current: Callable[[int, int], int], version: str = VERSION,
                 stocked: Callable[[int, int], bool] | None = None,
                 mutable: Callable[[int], bool] | None = None):
        self._items, self._locations, self._current = known_items, known_locations, current
        self._version = version
        self._stocked = stocked or (lambda _item, _location: True)
        self._mutable = mutable or (lambda _item: True)
        self._ignore_compare = False
        self.changes: list[tuple[int, int, int]] = []
        self.errors: list[dict[str, Any]] = []

    def check(self, given: Mapping[str, Any]) -> SetQuantities:
        if given.get("name") not in QUANTITY_NAMES:
            self.errors.append(_user_error(["input", "name"], "INVALID_NAME",
                                           "The quantity name must be either 'available' or 'on_hand'."))
        if given.get("reason") not in SET_REASONS:
            self.errors.append(_user_error(["input", "reason"], "INVALID_REASON",
                                           "The specified reason is invalid."))
        self._ignore_compare = bool(given.get("ignoreCompareQuantity"))
        for position, entry in enumerate(given.get("quantities") or []):
            outcome = self._take(["input", "quantities", str(position)], entry)
            if isinstance(outcome, tuple):
                self.changes.append(outcome)
            else:
                self.errors.append(outcome)
        return self

    def _take(self, at: list[str], entry: Mapping[str, Any]) -> tuple[int, int, int] | dict[str, Any]:
        """The change one quantity entry asks for, or the userError refusing it."""
        item = gid_of("InventoryItem", entry.get("inventoryItemId"))
        if item is None or item not in self._items:
            return _user_error([*at, "inventoryItemId"], "INVALID_INVENTORY_ITEM",
                               "The specified inventory item could not be found.")
        place = gid_of("Location", entry.get("locationId"))
        if place is None or place not in self._locations:
            return _user_error([*at, "locationId"], "INVALID_LOCATION",
                               "The specified location could not be found.")
        wanted = entry.get("quantity")
        if type(wanted) is not int:
            return _user_error([*at, "quantity"], None, "Quantity must be an integer.")
        refused = self._refuse_quantity(at, wanted) or self._refuse_level(at, item, place)
        refused = refused or self._refuse_stale(at, entry, self._current(item, place))
        if refused is not None:
            return refused
        if any(seen[:2] == (item, place) for seen in self.changes):
            return _user_error(at, "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                               "The combination of inventoryItemId and locationId must be unique.")
        return item, place, wanted

    @staticmethod
    def _refuse_quantity(at: list[str], wanted: int) -> dict[str, Any] | None:
        if wanted < 0:
            return _user_error([*at, "quantity"], "INVALID_QUANTITY_NEGATIVE",
                               "The quantity can't be negative.")
        if wanted > MOST_UNITS:
            return _user_error([*at, "quantity"], "INVALID_QUANTITY_TOO_HIGH",
                               "The total quantity can't be higher than 1,000,000,000.")
        return None

    def _refuse_level(self, at: list[str], item: int, place: int) -> dict[str, Any] | None:
        if not self._mutable(item):
            return _user_error([*at, "inventoryItemId"], "NON_MUTABLE_INVENTORY_ITEM",
                               "The specified inventory item is not allowed to be adjusted via API. "
                               "Example: if the inventory item is a parent bundle.")
        if not self._stocked(item, place):
            return _user_error([*at, "locationId"], "ITEM_NOT_STOCKED_AT_LOCATION",
                               "The specified inventory item is not stocked at the location.")
        return None

    def _refuse_stale(self, at: list[str], entry: Mapping[str, Any], persisted: int) -> dict[str, Any] | None:
        """The concurrency check of this version: changeFromQuantity (null opts out) where the
        version has it and the client gave it, else compareQuantity unless ignoreCompareQuantity."""
        if at_least(self._version, CHANGE_FROM_SINCE) and "changeFromQuantity" in entry:
            expected = entry["changeFromQuantity"]
            if expected is not None and expected != persisted:
                return _user_error([*at, "changeFromQuantity"], "CHANGE_FROM_QUANTITY_STALE",
                                   "The changeFromQuantity value does not match persisted value.")
            return None
        if at_least(self._version, COMPARE_GONE_SINCE):
            # (unverified) Shopify documents only that omitting it "returns an error".
            return _user_error([*at, "changeFromQuantity"], None,
                               "changeFromQuantity is required: give the quantity you expect, or null "
                               "to skip the check.")
        if self._ignore_compare:
            return None
        if entry.get("compareQuantity") is None:
            return _user_error([*at, "compareQuantity"], "COMPARE_QUANTITY_REQUIRED",
                               "The compareQuantity argument must be given to each quantity or ignored "
                               "using ignoreCompareQuantity.")
        if entry["compareQuantity"] != persisted:
            return _user_error([*at, "compareQuantity"], "COMPARE_QUANTITY_STALE",
                               "The compareQuantity value does not match persisted value.")
        return None
