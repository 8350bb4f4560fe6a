"""AWS SQS for the demo and the tests: moto's server mode (an independent emulator of the real SQS
API, SigV4 and all) on 127.0.0.1 and a free port, and the seller's ORDER_CHANGE queue in it, made
the way the seller's AWS administrator would make it before pointing Threadcount at it.

The Amazon simulator sends to the queue through its own SQS client; the connector reads it through
its own. Neither knows the other: they meet at the queue, as with the real Amazon.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


class MotoSqs:
    """One moto server, started on demand and stopped with `stop`."""

    def __init__(self) -> None:
        self._server: ThreadedMotoServer | None = None
        self.endpoint_url = ""

    def start(self) -> str:
        # werkzeug logs every request at INFO: a line per SQS call would drown the simulators' log.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        self._server, self.endpoint_url = server, f"http://{host}:{port}"
        return self.endpoint_url

    def create_queue(self, name: str, access_key_id: str, secret_access_key: str) -> str:
        """The queue's URL (an existing queue of that name is reused)."""
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=self.endpoint_url,
                           aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key)
        return str(sqs.create_queue(QueueName=name)["QueueUrl"])

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def seller_queue(sqs: MotoSqs, partner_id: str) -> dict[str, Any]:
    """The seller's queue for one Amazon partner, and what its connector needs to read it:
    `options` (queue URL, endpoint, region) and `credentials` (the app's AWS keys)."""
    keys = {"aws_access_key_id": "AKID" + secrets.token_hex(8).upper(),
            "aws_secret_access_key": secrets.token_urlsafe(30)}
    url = sqs.create_queue(f"{partner_id}-order-change", keys["aws_access_key_id"],
                           keys["aws_secret_access_key"])
    return {"options": {"queue_url": url, "sqs_endpoint_url": sqs.endpoint_url, "sqs_region": REGION},
            "credentials": keys}
