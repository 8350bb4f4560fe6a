"""What the Amazon connector tests share: the simulator on a loopback port, the seller's SQS queue in
moto's server (the queue the simulator sends ORDER_CHANGE to, made fresh for each test), and a
connector pointed at both as a merchant's config would point it at Amazon and AWS."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import boto3

from connectors.amazon import AmazonConnector
from connectors.base import OrderEvent, PartnerSpec
from simulators.amazon import AmazonSimulator
from simulators.amazon_sqs_server import REGION, MotoSqs
from simulators.base import SimConfig
from sync.limits import RateLimiter

SKUS = [f"SHEET-{n:03d}" for n in range(45)]
KEYS = {"aws_access_key_id": "AKIDTHREADCOUNTTEST", "aws_secret_access_key": "test-secret"}


@dataclass(frozen=True)
class SellerQueue:
    """One test's queue in the shared moto server, with a boto3 view of it for the assertions."""

    endpoint_url: str
    url: str

    def client(self) -> Any:
        return boto3.client("sqs", region_name=REGION, endpoint_url=self.endpoint_url, **KEYS)

    def counts(self) -> tuple[int, int]:
        """(visible, in flight) messages, as SQS counts them."""
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        found = self.client().get_queue_attributes(QueueUrl=self.url, AttributeNames=names)["Attributes"]
        return int(found[names[0]]), int(found[names[1]])

    def peek(self) -> list[str]:
        """The bodies of the visible messages, left visible (a zero visibility timeout)."""
        answer = self.client().receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [str(m["Body"]) for m in answer.get("Messages") or []]

    def send(self, body: str) -> None:
        """A message as SQS would deliver it again (at least once)."""
        self.client().send_message(QueueUrl=self.url, MessageBody=body)


def new_queue(sqs: MotoSqs) -> SellerQueue:
    url = sqs.create_queue(f"order-change-{uuid.uuid4().hex[:12]}", *KEYS.values())
    return SellerQueue(sqs.endpoint_url, url)


@contextlib.asynccontextmanager
async def running(sqs: MotoSqs | None = None, **config: Any) -> AsyncIterator[AmazonSimulator]:
    options = {"feed_seconds": 0.1, **config.pop("options", {})}
    if sqs is not None:
        options["sqs_endpoint_url"] = sqs.endpoint_url
    sim = AmazonSimulator(SimConfig(partner_id="amazon-test", credentials=AmazonSimulator.demo_credentials("amazon-test"),
                                    skus=config.pop("skus", SKUS), options=options,
                                    retry_delays=(0.05, 0.1), **config))
    await sim.start(port=0)
    try:
        yield sim
    finally:
        await sim.stop()


def connect(sim: AmazonSimulator, session: aiohttp.ClientSession, limiter: RateLimiter | None = None,
            credentials: dict[str, str] | None = None, queue: SellerQueue | None = None,
            **options: Any) -> AmazonConnector:
    """A connector for the simulator; with `queue`, reading ORDER_CHANGE from it over SQS."""
    given: dict[str, Any] = {"feed_poll_seconds": 0.05, **options}
    if queue is not None:
        given = {"queue_url": queue.url, "sqs_endpoint_url": queue.endpoint_url, **given}
    spec = PartnerSpec(id="amazon-test", kind="amazon", base_url=sim.base_url,
                       credentials={**(credentials or sim.config.credentials), **KEYS}, options=given)
    return AmazonConnector(spec, session, limiter or RateLimiter.under(AmazonConnector.rates(spec)))


async def delivered(sim: AmazonSimulator, count: int, within: float = 5.0) -> None:
    """Wait until the simulator has sent `count` notifications into SQS."""
    for _ in range(int(within / 0.02)):
        if sim.stats["notifications_delivered"] >= count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{sim.stats['notifications_delivered']} of {count} notifications reached SQS")


async def fetch_all(connector: AmazonConnector, page_size: int) -> list[list[OrderEvent]]:
    """Pages until the connector says no more is ready now, confirming each as the actor would."""
    pages, cursor = [], None
    for _ in range(20):
        page = await connector.fetch_orders(cursor, page_size)
        pages.append(page.events)
        await connector.confirm(page.events)
        cursor = page.cursor
        if not page.more:
            return pages
    raise AssertionError("the connector kept saying more")
