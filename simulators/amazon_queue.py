"""The Amazon simulator's ORDER_CHANGE queue: an SQS standard queue as a poller sees it, and the two
calls the connector makes on it, ReceiveMessage and DeleteMessageBatch, in SQS's JSON.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from simulators import amazon_wire as wire
from simulators.clock import Clock
from simulators.http import json_object

if TYPE_CHECKING:
    from simulators.amazon import AmazonSimulator


@dataclass
class _Message:
    message_id: str
    body: str
    visible_at: float = 0.0


class NotificationQueue:
    """An SQS standard queue as a poller sees it: at least once, hidden while received, shown again
    after the visibility timeout unless deleted."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.messages: dict[str, _Message] = {}
        self._handles: dict[str, str] = {}

    def send(self, body: str) -> None:
        message_id = str(uuid.uuid4())
        self.messages[message_id] = _Message(message_id, body)

    def receive(self, limit: int, visibility: float) -> list[dict[str, str]]:
        now, out = self._clock.monotonic(), list[dict[str, str]]()
        for message in self.messages.values():
            if len(out) >= limit:
                break
            if message.visible_at <= now:
                message.visible_at = now + visibility
                handle = secrets.token_urlsafe(32)
                self._handles[handle] = message.message_id
                out.append({"MessageId": message.message_id, "ReceiptHandle": handle, "Body": message.body,
                            "MD5OfBody": hashlib.md5(message.body.encode()).hexdigest()})
        return out

    def delete(self, handles: list[str]) -> tuple[list[str], list[str]]:
        done, unknown = [], []
        for handle in handles:
            message_id = self._handles.pop(handle, None)
            if message_id is None:
                unknown.append(handle)
            else:
                self.messages.pop(message_id, None)
                done.append(handle)
        return done, unknown


class QueueApi:
    """POST /sqs/{queue}/receive and /sqs/{queue}/delete on the simulator's one queue. The
    simulator checks the access token before these run."""

    def __init__(self, sim: AmazonSimulator):
        self._sim = sim

    async def receive(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        limit = _batch_size(body.get("MaxNumberOfMessages"))
        visibility = float(body.get("VisibilityTimeout") or self._sim.visibility_timeout)
        return web.json_response({"Messages": self._sim.queue.receive(limit, visibility)})

    async def delete(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if isinstance(body, web.Response):
            return body
        handles = [str(h) for h in body.get("ReceiptHandles") or []][:wire.SQS_MAX_MESSAGES]
        done, unknown = self._sim.queue.delete(handles)
        self._sim.stats["messages_deleted"] += len(done)
        failed = [{"Id": handle, "Code": "ReceiptHandleIsInvalid", "SenderFault": True} for handle in unknown]
        return web.json_response({"Successful": [{"Id": handle} for handle in done], "Failed": failed})

    async def _body(self, request: web.Request) -> dict[str, Any] | web.Response:
        if request.match_info["queue"] != self._sim.queue_name:
            return web.json_response({"__type": "com.amazonaws.sqs#QueueDoesNotExist",
                                      "message": "The specified queue does not exist."}, status=400)
        return await json_object(request)


def _batch_size(value: Any) -> int:
    """MaxNumberOfMessages: 1 when absent or not a number, at most SQS's batch."""
    try:
        wanted = int(value)
    except (TypeError, ValueError):
        wanted = 1
    return min(wire.SQS_MAX_MESSAGES, max(1, wanted))
