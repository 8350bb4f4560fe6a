"""How a merchant's config.yaml points the Amazon connector at its SQS queue: the queue URL names
the region, the app's AWS keys come from the environment, and no queue means polling alone."""

from __future__ import annotations

from connectors.amazon import AmazonConnector
from connectors.base import PartnerSpec
from sync.config import partners

QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/threadcount-order-change"


def connector_for(raw: dict[str, object], env: dict[str, str]) -> AmazonConnector:
    config = partners({"amazon": raw}, env)["amazon"]
    return AmazonConnector(PartnerSpec(config.id, config.kind, "https://sellingpartnerapi-eu.amazon.com",
                                       dict(config.credentials), dict(config.options)))


def test_the_queue_url_names_the_region_and_the_aws_keys_come_from_the_environment() -> None:
    connector = connector_for({"kind": "amazon", "base_url": "https://sellingpartnerapi-eu.amazon.com",
                               "credentials": {"aws_access_key_id": "env:AMZ_SQS_KEY",
                                               "aws_secret_access_key": "env:AMZ_SQS_SECRET"},
                               "options": {"queue_url": QUEUE}},
                              {"AMZ_SQS_KEY": "AKIDEXAMPLE", "AMZ_SQS_SECRET": "wJalrXUtnFEMI"})

    queue = connector.options.queue
    assert queue is not None
    assert (queue.queue_url, queue.region, queue.endpoint_url) == (QUEUE, "eu-west-1", None)
    assert (queue.access_key_id, queue.secret_access_key) == ("AKIDEXAMPLE", "wJalrXUtnFEMI")
    assert connector.options.subscribe


def test_another_sqs_endpoint_keeps_the_region_it_is_given() -> None:
    connector = connector_for({"kind": "amazon", "base_url": "http://127.0.0.1:9",
                               "options": {"queue_url": "http://127.0.0.1:5000/123456789012/q",
                                           "sqs_endpoint_url": "http://127.0.0.1:5000",
                                           "sqs_region": "us-west-2"}}, {})

    queue = connector.options.queue
    assert queue is not None and (queue.region, queue.endpoint_url) == ("us-west-2", "http://127.0.0.1:5000")


def test_without_a_queue_the_connector_only_polls() -> None:
    connector = connector_for({"kind": "amazon", "base_url": "http://127.0.0.1:9"}, {})

    assert connector.options.queue is None and connector.queue is None
