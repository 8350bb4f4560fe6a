"""Square as it really behaves: deliveries signed over the notification URL registered with Square
(the public address, not the listener's), an inventory.count.updated beside each till sale's
order.updated, stale deliveries refused, Square-Version checked, and 429s without Retry-After."""

from __future__ import annotations

import json
import time

import pytest

from connectors.base import OrderEventKind, RateLimited
from connectors.square_format import SIGNATURE_HEADER, iso, signature
from tests.integration.test_square_connector import Receiver, square

PUBLIC = "https://threadcount.example.com/webhooks/square"   # what the subscription at Square names
BEHIND_A_PROXY = {"notification_url": PUBLIC, "webhook_url": PUBLIC}   # the simulator's and ours


async def test_a_delivery_signed_over_the_registered_public_url_verifies_behind_a_reverse_proxy() -> None:
    async with Receiver() as ingress, square(initial_quantity=5, webhook_url=ingress.url,
                                             options=BEHIND_A_PROXY) as sq:
        order = await sq.sim.record_order("SHEET-2", 1)
        await ingress.wait_for(1, kind="order.updated")
        headers, body = ingress.of_type("order.updated")[0]
        assert headers[SIGNATURE_HEADER] == signature(sq.connector.spec.credentials["signature_key"], PUBLIC, body)
        assert sq.connector.verify_webhook(headers, body, ingress.url)   # the ingress passes its own address
        [event] = await sq.connector.parse_webhook(headers, body)
        assert (event.order_id, event.kind) == (order.order_id, OrderEventKind.SALE)


async def test_a_till_sale_also_sends_inventory_count_updated_which_is_no_second_sale() -> None:
    async with Receiver() as ingress, square(initial_quantity=5, webhook_url=ingress.url) as sq:
        await sq.sim.record_order("SHEET-1", 2)
        await ingress.wait_for(1, kind="inventory.count.updated")
        headers, body = ingress.of_type("inventory.count.updated")[0]
        [count] = json.loads(body)["data"]["object"]["inventory_counts"]
        assert (count["state"], count["quantity"]) == ("IN_STOCK", "3")
        assert sq.connector.verify_webhook(headers, body, ingress.url)
        assert await sq.connector.parse_webhook(headers, body) == []


async def test_a_correctly_signed_delivery_whose_created_at_is_stale_is_refused_as_a_replay() -> None:
    async with square() as sq:
        key, url = sq.connector.spec.credentials["signature_key"], "http://127.0.0.1:8001/webhooks/square"

        def delivery(age: float) -> tuple[dict[str, str], bytes]:
            body = json.dumps({"merchant_id": "M", "type": "order.updated", "event_id": f"e-{age}",
                               "created_at": iso(time.time() - age), "data": {}}).encode()
            return {SIGNATURE_HEADER: signature(key, url, body)}, body

        assert sq.connector.verify_webhook(*delivery(23 * 3600), url)       # a retry Square may still send
        assert not sq.connector.verify_webhook(*delivery(2 * 86_400), url)  # two days old: a replay
        assert not sq.connector.verify_webhook(*delivery(-3600), url)       # an hour from now
        sq.connector.spec.options["webhook_max_age_s"] = 600
        assert not sq.connector.verify_webhook(*delivery(3600), url)


@pytest.mark.parametrize(("version", "code"), [("2026-8-19", "INVALID_SQUARE_VERSION_FORMAT"),
                                               ("2026-02-30", "INVALID_SQUARE_VERSION_FORMAT"),
                                               ("latest", "INVALID_SQUARE_VERSION_FORMAT"),
                                               ("2099-01-01", "INVALID_VALUE"),
                                               ("2017-01-01", "INVALID_VALUE")])
async def test_a_square_version_square_never_released_is_refused(version: str, code: str) -> None:
    async with square() as sq:
        headers = {"Authorization": f"Bearer {sq.connector.spec.credentials['access_token']}",
                   "Square-Version": version}
        async with sq.session.get(sq.sim.base_url + "/v2/locations", headers=headers) as answer:
            assert answer.status == 400
            [error] = (await answer.json())["errors"]
        assert (error["category"], error["code"], error["field"]) == ("INVALID_REQUEST_ERROR", code, "Square-Version")


async def test_a_429_without_retry_after_is_backed_off_longer_each_time() -> None:
    async with square() as sq:
        sq.sim.throttle_next(2, retry_after=None)
        waits = []
        for _ in range(2):
            with pytest.raises(RateLimited) as raised:
                await sq.connector.read_listings(["SHEET-0"])
            waits.append(raised.value.retry_after)
        assert waits == [1.0, 2.0]
        assert await sq.connector.read_listings(["SHEET-0"]) == {"SHEET-0": 0}
        sq.sim.throttle_next(1, retry_after=None)
        with pytest.raises(RateLimited) as raised:
            await sq.connector.read_listings(["SHEET-0"])
        assert raised.value.retry_after == 1.0   # a success started the backoff over


async def test_squares_429_may_come_without_retry_after() -> None:
    async with square() as sq:
        sq.sim.throttle_next(1, retry_after=None)
        headers = {"Authorization": f"Bearer {sq.connector.spec.credentials['access_token']}",
                   "Square-Version": "2026-08-19"}
        async with sq.session.get(sq.sim.base_url + "/v2/locations", headers=headers) as answer:
            assert answer.status == 429 and "Retry-After" not in answer.headers
            assert (await answer.json())["errors"][0]["code"] == "RATE_LIMITED"


async def test_the_simulator_takes_squares_published_batch_change_request() -> None:
    sample = {"idempotency_key": "8fc6a5b0-9fe8-4b46-b46b-2ef95793abbe", "ignore_unchanged_counts": True,
              "changes": [{"type": "PHYSICAL_COUNT", "physical_count": {
                  "reference_id": "1536bfbf-efed-48bf-b17d-a197141b2a92",
                  "catalog_object_id": "W62UWFY35CWMYGVWK6TWJDNI", "state": "IN_STOCK",
                  "location_id": "C6W5YS5QM06F5", "quantity": "53", "team_member_id": "LRK57NSQ5X7PUD05",
                  "occurred_at": "2016-11-16T22:25:24.878Z"}}]}   # Square's BatchChangeInventory example
    async with square(skus=["SHEET-Q-WHT"], options={"location_id": "C6W5YS5QM06F5"}, start=False) as sq:
        sq.sim.variation_ids["SHEET-Q-WHT"] = "W62UWFY35CWMYGVWK6TWJDNI"   # the example's catalog id
        sq.sim.sku_of = {"W62UWFY35CWMYGVWK6TWJDNI": "SHEET-Q-WHT"}
        await sq.connector.api.token()
        status, answer = await sq.raw("/v2/inventory/changes/batch-create", sample)
        assert status == 200 and "errors" not in answer
        assert [(c["catalog_object_id"], c["quantity"]) for c in answer["counts"]] == [
            ("W62UWFY35CWMYGVWK6TWJDNI", "53")]
        assert sq.sim.listings["SHEET-Q-WHT"] == 53
