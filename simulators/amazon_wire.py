"""Amazon's side of the Selling Partner API wire, from its published models: the paths, the usage
plan of each operation, Amazon's timestamps, reading the quantity out of a listings patch (or a
JSON_LISTINGS_FEED message) the way Amazon reads it, and the ORDER_CHANGE notification it publishes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from simulators.ratelimit import Quota

MARKETPLACE_US = "ATVPDKIKX0DER"
PRODUCT_TYPE = "HOME_BED_AND_BATH"
LISTINGS_ITEMS = "/listings/2021-08-01/items"
FEEDS = "/feeds/2021-06-30"
ORDERS = "/orders/2026-01-01/orders"
NOTIFICATIONS = "/notifications/v1"
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
FULFILLMENT_AVAILABILITY = "/attributes/fulfillment_availability"
QUANTITY_OPS = frozenset({"replace", "merge"})
PATCH_OPS = frozenset({"add", "replace", "merge", "delete"})
# The fields of a fulfillment_availability entry (the listings schema's MFN attribute).
AVAILABILITY_FIELDS = frozenset({"fulfillment_channel_code", "quantity", "lead_time_to_ship_max_days",
                                 "restock_date", "is_inventory_available"})
LISTING_DATASETS = frozenset({"summaries", "attributes", "issues", "offers", "fulfillmentAvailability",
                              "procurement", "relationships", "productTypes"})

# Usage plans, (requests per second, burst), as the SP-API models publish them per operation.
_PLANS = {
    "patchListingsItem": (5.0, 5), "getListingsItem": (5.0, 5), "searchListingsItems": (5.0, 5),
    "createFeedDocument": (0.5, 15), "createFeed": (0.0083, 15), "getFeed": (2.0, 15),
    "getFeedDocument": (0.0222, 10), "searchOrders": (0.0056, 20), "getOrder": (0.5, 30),
    "getDestinations": (1.0, 5), "createDestination": (1.0, 5),
    "getSubscription": (1.0, 5), "createSubscription": (1.0, 5),
}
USAGE_PLANS = {operation: Quota(float(rate), float(burst)) for operation, (rate, burst) in _PLANS.items()}


def timestamp(seconds: float) -> str:
    """Amazon's ISO 8601: UTC, whole seconds, a Z."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_timestamp(text: str) -> float:
    """A client's ISO 8601 date (ValueError when it is not one)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def availability_patch(message: Any) -> tuple[str, dict[str, Any]] | None:
    """(op, DEFAULT entry) of the first patch of fulfillment_availability in a patch request or feed
    message; None when it patches no availability."""
    if not isinstance(message, Mapping) or not isinstance(message.get("patches"), list):
        return None
    for patch in message["patches"]:
        if not isinstance(patch, Mapping) or patch.get("path") != FULFILLMENT_AVAILABILITY:
            continue
        for channel in patch.get("value") or []:
            if isinstance(channel, Mapping) and channel.get("fulfillment_channel_code") == "DEFAULT":
                return str(patch.get("op")), dict(channel)
    return None


def requested_quantity(message: Any) -> int | None:
    """The DEFAULT-channel quantity a replace or merge of fulfillment_availability names."""
    found = availability_patch(message)
    if found is None or found[0] not in QUANTITY_OPS:
        return None
    wanted = found[1].get("quantity")
    return wanted if isinstance(wanted, int) else None


def order_item_id(order_id: str, position: int) -> str:
    """An order's n-th item id (from 1): the same in every notification and Orders API answer."""
    return order_id.replace("-", "")[-12:] + f"{position:02d}"


def order_change(order: Any, seller_id: str, marketplace_id: str, notification_id: str,
                 subscription_id: str = "threadcount-order-change") -> dict[str, Any]:
    """The ORDER_CHANGE notification for a simulator order (`order_id`, `sku`, `quantity`, `status`,
    `created_at`, `updated_at`), in the Notifications API's published shape."""
    changed = timestamp(order.updated_at)
    item = {"OrderItemId": order_item_id(order.order_id, 1), "SellerSKU": order.sku, "SupplyType": "Now",
            "Quantity": order.quantity}
    summary = {"MarketplaceId": marketplace_id, "OrderStatus": order.status,
               "PurchaseDate": timestamp(order.created_at), "FulfillmentType": "MFN",
               "OrderType": "StandardOrder", "OrderItems": [item]}
    payload = {"OrderChangeNotification": {
        "NotificationLevel": "OrderLevel", "SellerId": seller_id, "AmazonOrderId": order.order_id,
        "OrderChangeType": "OrderStatusChange",
        "OrderChangeTrigger": {"TimeOfOrderChange": changed, "ChangeReason": "OrderStatusChange"},
        "Summary": summary}}
    metadata = {"ApplicationId": "amzn1.sellerapps.app.threadcount",
                "SubscriptionId": subscription_id,
                "PublishTime": changed, "NotificationId": notification_id}
    return {"NotificationVersion": "1.0", "NotificationType": "ORDER_CHANGE", "PayloadVersion": "1.0",
            "EventTime": changed, "Payload": payload, "NotificationMetadata": metadata}
