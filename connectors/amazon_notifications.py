"""The Notifications API setup the Amazon connector makes at start: a destination naming the
seller's SQS queue (createDestination, grantless) and the ORDER_CHANGE subscription delivering to it
(createSubscription, with the seller's token).

Idempotent: what exists is read first (getDestinations, getSubscription) and reused, so a restarted
connector creates nothing twice; a 409 from a create that raced another start counts as done.
"""

from __future__ import annotations

from typing import Any

from connectors import amazon_format as fmt
from connectors.amazon_api import SellingPartnerApi
from connectors.base import PartnerRejected

ORDER_CHANGE = "ORDER_CHANGE"


async def subscribe_order_change(api: SellingPartnerApi, queue_arn: str, name: str) -> str:
    """The ORDER_CHANGE subscription's id, delivering to `queue_arn` (created when absent)."""
    destination_id = await _destination(api, queue_arn, name)
    url = api.url(f"{fmt.NOTIFICATIONS_PATH}/subscriptions/{ORDER_CHANGE}")
    existing = await api.call("getSubscription", "GET", url, missing_ok=True,
                              params={"payloadVersion": fmt.ORDER_CHANGE_PAYLOAD_VERSION})
    if existing and (existing.get("payload") or {}).get("subscriptionId"):
        # One subscription per type and app: one pointing elsewhere is the seller's to change.
        return str(existing["payload"]["subscriptionId"])
    body = {"payloadVersion": fmt.ORDER_CHANGE_PAYLOAD_VERSION, "destinationId": destination_id}
    created = await _create("createSubscription", api, url, body)
    if created is None:   # another start subscribed meanwhile
        again = await api.call("getSubscription", "GET", url,
                               params={"payloadVersion": fmt.ORDER_CHANGE_PAYLOAD_VERSION})
        return str(again["payload"]["subscriptionId"])
    return str(created["payload"]["subscriptionId"])


async def _destination(api: SellingPartnerApi, queue_arn: str, name: str) -> str:
    url = api.url(f"{fmt.NOTIFICATIONS_PATH}/destinations")
    found = _with_arn(await api.call("getDestinations", "GET", url, grantless=True), queue_arn)
    if found:
        return found
    body = {"name": name, "resourceSpecification": {"sqs": {"arn": queue_arn}}}
    created = await _create("createDestination", api, url, body, grantless=True)
    if created is None:
        found = _with_arn(await api.call("getDestinations", "GET", url, grantless=True), queue_arn)
        if not found:
            raise PartnerRejected(f"createDestination: conflict, yet no destination names {queue_arn}")
        return found
    return str(created["payload"]["destinationId"])


async def _create(op: str, api: SellingPartnerApi, url: str, body: dict[str, Any],
                  grantless: bool = False) -> dict[str, Any] | None:
    """The created resource, or None when Amazon says it already exists (409)."""
    answer: dict[str, Any] | None = await api.call(op, "POST", url, body=body, grantless=grantless,
                                                   conflict_ok=True)
    return answer


def _with_arn(answer: Any, queue_arn: str) -> str | None:
    for destination in (answer or {}).get("payload") or []:
        if ((destination.get("resource") or {}).get("sqs") or {}).get("arn") == queue_arn:
            return str(destination["destinationId"])
    return None
