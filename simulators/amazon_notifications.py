"""The Amazon simulator's Notifications API and its delivery to AWS SQS, as Amazon documents them:
destinations (getDestinations, createDestination: grantless operations, the app's client-credentials
token with the notifications scope) naming an SQS queue by ARN, and subscriptions per notification
type (getSubscription, createSubscription: the seller's token). Once ORDER_CHANGE is subscribed,
every notification is sent to the destination's queue with SQS SendMessage, through this
simulator's own AWS client (boto3) at `sqs_endpoint_url`: the queue is a real SQS, or moto's server.

Amazon checks it can reach the queue when the destination is created (400 otherwise), answers 409
to a second destination for the same ARN or a second subscription of a type, and retries a send
that fails.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import boto3
from aiohttp import web
from botocore.exceptions import BotoCoreError, ClientError

from simulators.http import json_object

if TYPE_CHECKING:
    from simulators.amazon import AmazonSimulator

_TYPES = frozenset({"ORDER_CHANGE", "ANY_OFFER_CHANGED", "FEED_PROCESSING_FINISHED",
                    "REPORT_PROCESSING_FINISHED", "LISTINGS_ITEM_STATUS_CHANGE",
                    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE"})


class NotificationsApi:
    def __init__(self, sim: AmazonSimulator, endpoint_url: str | None):
        self._sim = sim
        self._endpoint_url = endpoint_url
        self.destinations: dict[str, dict[str, Any]] = {}    # destinationId -> Destination
        self.subscriptions: dict[str, dict[str, Any]] = {}   # notification type -> Subscription
        self._clients: dict[str, Any] = {}
        self._queue_urls: dict[str, str] = {}

    # --- the API ---------------------------------------------------------------------------------------

    async def get_destinations(self, _request: web.Request) -> web.Response:
        return web.json_response({"payload": list(self.destinations.values())})

    async def create_destination(self, request: web.Request) -> web.Response:
        sim, body = self._sim, await json_object(request)
        arn = ((body.get("resourceSpecification") or {}).get("sqs") or {}).get("arn")
        if not isinstance(body.get("name"), str) or not isinstance(arn, str) or set(body) - {
                "name", "resourceSpecification"}:
            return sim.error_response(400, "name and resourceSpecification.sqs.arn are required")
        if any(d["resource"]["sqs"]["arn"] == arn for d in self.destinations.values()):
            return sim.error_response(409, f"A destination for {arn} already exists")
        try:
            await self._queue_url(arn)
        except (ValueError, BotoCoreError, ClientError) as exc:
            return sim.error_response(400, f"Amazon could not reach the SQS queue {arn}: {exc}")
        destination = {"name": body["name"], "destinationId": str(uuid.uuid4()),
                       "resource": {"sqs": {"arn": arn}}}
        self.destinations[destination["destinationId"]] = destination
        return web.json_response({"payload": destination})

    async def get_subscription(self, request: web.Request) -> web.Response:
        kind = request.match_info["notificationType"]
        if kind not in _TYPES:
            return self._sim.error_response(400, f"Invalid notificationType {kind!r}")
        found = self.subscriptions.get(kind)
        if found is None:
            return self._sim.error_response(404, f"No subscription for {kind}")
        return web.json_response({"payload": found})

    async def create_subscription(self, request: web.Request) -> web.Response:
        sim, kind, body = self._sim, request.match_info["notificationType"], await json_object(request)
        if kind not in _TYPES:
            return sim.error_response(400, f"Invalid notificationType {kind!r}")
        if body.get("payloadVersion") != "1.0" or set(body) - {"payloadVersion", "destinationId",
                                                               "processingDirective"}:
            return sim.error_response(400, "payloadVersion 1.0 and destinationId are required")
        if body.get("destinationId") not in self.destinations:
            return sim.error_response(400, f"Invalid destinationId {body.get('destinationId')!r}")
        if kind in self.subscriptions:
            return sim.error_response(409, f"A subscription for {kind} already exists")
        subscription = {"subscriptionId": str(uuid.uuid4()), "payloadVersion": "1.0",
                        "destinationId": body["destinationId"]}
        self.subscriptions[kind] = subscription
        return web.json_response({"payload": subscription})

    # --- delivery --------------------------------------------------------------------------------------

    def subscription_id(self, kind: str) -> str | None:
        found = self.subscriptions.get(kind)
        return None if found is None else str(found["subscriptionId"])

    def publish(self, kind: str, body: str) -> bool:
        """Send a notification to the subscribed destination's queue in the background; False when
        nothing is subscribed to `kind`."""
        subscription = self.subscriptions.get(kind)
        if subscription is None:
            return False
        arn = self.destinations[subscription["destinationId"]]["resource"]["sqs"]["arn"]
        self._sim.spawn(self._send(arn, body))
        return True

    async def _send(self, arn: str, body: str) -> None:
        sim = self._sim
        for delay in (0.0, *sim.config.retry_delays):
            await sim.clock.sleep(delay)
            try:
                url = await self._queue_url(arn)
                await asyncio.to_thread(self._client(arn).send_message, QueueUrl=url, MessageBody=body)
            except (ValueError, BotoCoreError, ClientError):
                sim.stats["notifications_failed"] += 1
                continue
            sim.stats["notifications_delivered"] += 1
            return

    async def _queue_url(self, arn: str) -> str:
        if arn not in self._queue_urls:
            _, account, name = _arn_parts(arn)
            answer = await asyncio.to_thread(self._client(arn).get_queue_url, QueueName=name,
                                             QueueOwnerAWSAccountId=account)
            self._queue_urls[arn] = str(answer["QueueUrl"])
        return self._queue_urls[arn]

    def _client(self, arn: str) -> Any:
        region = _arn_parts(arn)[0]
        if region not in self._clients:
            options = self._sim.config.options
            self._clients[region] = boto3.client(
                "sqs", region_name=region, endpoint_url=self._endpoint_url,
                aws_access_key_id=str(options.get("aws_access_key_id", "AKIDSELLINGPARTNERAPI")),
                aws_secret_access_key=str(options.get("aws_secret_access_key", "amazon-notifications")))
        return self._clients[region]


def _arn_parts(arn: str) -> tuple[str, str, str]:
    """(region, account, queue name) of arn:aws:sqs:<region>:<account>:<name>."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"]:
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    return parts[3], parts[4], parts[5]
