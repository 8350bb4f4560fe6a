"""The seller's ORDER_CHANGE queue as the Amazon connector reads it: a real AWS SQS standard queue,
reached through aiobotocore (ReceiveMessage, DeleteMessageBatch, GetQueueAttributes; requests signed
with AWS Signature V4 using the app's AWS keys). `endpoint_url` points it at another SQS-compatible
endpoint (moto's server in tests and the demo); empty means AWS itself for the queue URL's region.

Every AWS failure becomes PartnerError, once, here. A message is deleted only when asked (after the
orders it carried committed), so an uncommitted one shows again after its visibility timeout.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from connectors.base import PartnerError

SQS_BATCH = 10   # SQS receives and deletes at most ten messages a call


@dataclass(frozen=True, slots=True)
class QueueSettings:
    queue_url: str
    region: str
    endpoint_url: str | None
    access_key_id: str
    secret_access_key: str
    visibility_timeout: int

    @staticmethod
    def region_of(queue_url: str, fallback: str = "us-east-1") -> str:
        """sqs.<region>.amazonaws.com names the region; any other host keeps the fallback."""
        parts = (urlparse(queue_url).hostname or "").split(".")
        return parts[1] if len(parts) >= 4 and parts[0] == "sqs" else fallback


class OrderChangeQueue:
    """One open SQS client for the connector's life (opened lazily, closed by `close`)."""

    def __init__(self, settings: QueueSettings):
        self.settings = settings
        self._stack: contextlib.AsyncExitStack | None = None
        self._client: Any = None

    async def _sqs(self) -> Any:
        if self._client is None:
            s = self.settings
            stack = contextlib.AsyncExitStack()
            # Few retries and short timeouts: the order poll waits for this read.
            config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                            read_timeout=10)
            self._client = await stack.enter_async_context(get_session().create_client(
                "sqs", region_name=s.region, endpoint_url=s.endpoint_url or None, config=config,
                aws_access_key_id=s.access_key_id, aws_secret_access_key=s.secret_access_key))
            self._stack = stack
        return self._client

    async def close(self) -> None:
        if self._stack is not None:
            stack, self._stack, self._client = self._stack, None, None
            await stack.aclose()

    async def arn(self) -> str:
        """The queue's ARN, which the Notifications API destination names."""
        answer = await self._call("GetQueueAttributes", "get_queue_attributes",
                                  QueueUrl=self.settings.queue_url, AttributeNames=["QueueArn"])
        return str(answer["Attributes"]["QueueArn"])

    async def receive(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` (at most 10) messages, hidden from other readers for the visibility timeout."""
        answer = await self._call("ReceiveMessage", "receive_message", QueueUrl=self.settings.queue_url,
                                  MaxNumberOfMessages=max(1, min(SQS_BATCH, limit)),
                                  VisibilityTimeout=self.settings.visibility_timeout, WaitTimeSeconds=0)
        return list(answer.get("Messages") or [])

    async def delete(self, handles: list[str]) -> int:
        """DeleteMessageBatch in tens; the number SQS deleted (an expired handle fails alone: that
        message shows again and is deduped then)."""
        deleted = 0
        for start in range(0, len(handles), SQS_BATCH):
            entries = [{"Id": str(n), "ReceiptHandle": handle}
                       for n, handle in enumerate(handles[start:start + SQS_BATCH])]
            answer = await self._call("DeleteMessageBatch", "delete_message_batch",
                                      QueueUrl=self.settings.queue_url, Entries=entries)
            deleted += len(answer.get("Successful") or [])
        return deleted

    async def _call(self, name: str, method: str, **request: Any) -> dict[str, Any]:
        try:
            client = await self._sqs()
            answer: dict[str, Any] = await getattr(client, method)(**request)
        except ClientError as exc:
            raise PartnerError(f"SQS {name}: {exc.response.get('Error', {})}") from exc
        except (BotoCoreError, OSError, TimeoutError) as exc:
            raise PartnerError(f"SQS {name}: {exc!r}") from exc
        return answer
