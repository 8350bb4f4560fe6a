"""The /metrics merge without Ray: families from several processes become one text exposition with
labels naming each source; a source that does not answer in time is skipped and counted; the desk
counts each order it placed once, by channel and status; shards and partners keep their own figures."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from actors.metrics import PartnerMetrics, ShardMetrics, counting, orders_counter
from inventory.desk import StockDesk
from service.metrics import REGISTRY, Source, alerts_open_family, exposition, merge, scrape
from tests.unit.test_desk import SHOP, WHOLESALE, A, B, Shards, router_for


def samples(text: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text.decode()) for s in family.samples}


def shard_families(batch: int) -> list[Metric]:
    figures = ShardMetrics()
    figures.batch_size.observe(batch)
    return figures.families()


def test_families_of_one_name_from_several_shards_become_one_family_labelled_by_shard() -> None:
    text = exposition(merge([({"actor": "shard-0", "shard": "0"}, shard_families(3)),
                             ({"actor": "shard-1", "shard": "1"}, shard_families(7))]))
    assert text.decode().count("# TYPE threadcount_shard_batch_size histogram") == 1
    found = samples(text)
    assert found["threadcount_shard_batch_size_sum", frozenset({("actor", "shard-0"), ("shard", "0")})] == 3
    assert found["threadcount_shard_batch_size_sum", frozenset({("actor", "shard-1"), ("shard", "1")})] == 7


def test_a_label_the_sample_already_has_is_not_overridden_by_its_source() -> None:
    registry = CollectorRegistry()
    orders = orders_counter(registry)
    orders.labels("shop", "reserved").inc()
    text = exposition(merge([({"actor": "partner-shop", "channel": "not-this"}, list(registry.collect()))]))
    key = frozenset({("actor", "partner-shop"), ("channel", "shop"), ("status", "reserved")})
    assert samples(text)["threadcount_orders_total", key] == 1


def test_a_partner_answers_its_errors_rate_limit_use_and_push_lag_with_its_id() -> None:
    figures = PartnerMetrics("etsy")
    figures.observe_lag(0.2)
    found = samples(exposition(merge([({"actor": "partner-etsy"}, figures.families(4, {"default": 0.25}))])))
    assert found["threadcount_partner_errors_total", frozenset({("actor", "partner-etsy"), ("partner", "etsy")})] == 4
    use = frozenset({("actor", "partner-etsy"), ("partner", "etsy"), ("bucket", "default")})
    assert found["threadcount_partner_rate_limit_use", use] == 0.25
    assert found["threadcount_partner_push_lag_seconds_count",
                 frozenset({("actor", "partner-etsy"), ("partner", "etsy")})] == 1


def test_a_partner_not_started_yet_still_names_its_families_without_figures() -> None:
    text = exposition(PartnerMetrics("etsy").families(None, {})).decode()
    assert "# TYPE threadcount_partner_errors_total counter" in text
    assert "threadcount_partner_errors_total{" not in text


def test_open_alerts_are_a_gauge_per_kind() -> None:
    found = samples(exposition([alerts_open_family({"low_stock": 2, "drift": 0})]))
    assert found["threadcount_alerts_open", frozenset({("kind", "low_stock")})] == 2
    assert found["threadcount_alerts_open", frozenset({("kind", "drift")})] == 0


def _scrape_errors(actor: str) -> float:
    return REGISTRY.get_sample_value("threadcount_scrape_errors_total", {"actor": actor}) or 0.0


async def test_an_actor_that_does_not_answer_in_time_is_skipped_and_counted() -> None:
    async def slow() -> list[Metric]:
        await asyncio.sleep(5)
        return shard_families(1)

    async def broken() -> list[Metric]:
        raise RuntimeError("actor died")

    async def quick() -> list[Metric]:
        return shard_families(2)

    before = _scrape_errors("shard-9"), _scrape_errors("shard-8")
    sources = [Source({"actor": "shard-9", "shard": "9"}, slow), Source({"actor": "shard-8"}, broken),
               Source({"actor": "shard-1", "shard": "1"}, quick)]
    text = await asyncio.wait_for(scrape(sources, timeout=0.1), 2)
    found = samples(text)
    assert found["threadcount_shard_batch_size_sum", frozenset({("actor", "shard-1"), ("shard", "1")})] == 2
    assert not any(dict(labels).get("shard") == "9" for _, labels in found)
    assert (_scrape_errors("shard-9"), _scrape_errors("shard-8")) == (before[0] + 1, before[1] + 1)
    # the web process's own families come along, labelled as such
    assert ("threadcount_sse_clients", frozenset({("actor", "web")})) in found
    assert found["threadcount_scrape_errors_total", frozenset({("actor", "shard-9")})] == before[0] + 1


async def test_the_desk_counts_each_order_once_by_channel_and_status() -> None:
    registry = CollectorRegistry()
    orders = orders_counter(registry)
    shards = Shards()
    async with router_for(shards.send, 2) as router:
        desk = StockDesk(router, on_placed=counting(orders))
        await desk.place_order(SHOP, "1", [(A, 1)])          # no stock: the shop rejects
        await desk.place_order(WHOLESALE, "2", [(B, 1)])     # no stock: wholesale backorders
        await desk.place_order(WHOLESALE, "2", [(B, 1)])     # the same order again
    value = registry.get_sample_value
    assert value("threadcount_orders_total", {"channel": "shop", "status": "rejected"}) == 1
    assert value("threadcount_orders_total", {"channel": "wholesale", "status": "backordered"}) == 1
    assert value("threadcount_orders_total", {"channel": "wholesale", "status": "duplicate"}) == 1


def test_two_shards_in_one_process_keep_separate_figures() -> None:
    one, two = ShardMetrics(), ShardMetrics()
    one.commit_seconds.observe(0.5)
    assert isinstance(two.commit_seconds, Histogram)
    assert two.registry.get_sample_value("threadcount_shard_commit_seconds_count") == 0
    assert one.registry.get_sample_value("threadcount_shard_commit_seconds_count") == 1
