"""The service's Prometheus figures in one scrape: the web process's own registry, plus every actor's
families (shards, partner connectors, the event hub) gathered concurrently at each scrape.

An actor that does not answer within SCRAPE_TIMEOUT is skipped and counted in
`threadcount_scrape_errors_total{actor}`; the scrape itself always answers. Each actor's series get
labels naming it (`actor` and, for a shard, `shard`; a partner's series already carry `partner`),
and families of the same name from several processes are merged into one family, as the text
format requires.

Other parts of the service count here: orders placed through the web process (`ORDERS`, the
StockDesk's `on_placed`), HTTP request durations (web/metrics.py), open SSE streams (`SSE_CLIENTS`),
live events rendered for them (`STREAM_RENDERS`), and notifications sent (`NOTIFICATIONS`, labels
channel and outcome). Each web process also reports its garbage collector's passes by generation
(`python_gc_collections_total`, prometheus_client's own collector): the collector's passes over what
start-up built had cost a web worker a quarter of its main thread (actors/collector.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from actors.metrics import SECONDS_BUCKETS, counting, orders_counter

log = logging.getLogger(__name__)
SCRAPE_TIMEOUT = 1.0  # seconds an actor gets to answer a scrape
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REGISTRY = CollectorRegistry()
GCCollector(registry=REGISTRY)
ORDERS = orders_counter(REGISTRY)
order_placed = counting(ORDERS)
HTTP_SECONDS = Histogram("threadcount_http_request_duration_seconds",
                         "Seconds the web process took per HTTP request, by route template",
                         ["method", "route", "status"], buckets=SECONDS_BUCKETS, registry=REGISTRY)
SSE_CLIENTS = Gauge("threadcount_sse_clients", "Open dashboard event streams (/stream)", registry=REGISTRY)
STREAM_RENDERS = Counter("threadcount_stream_renders", "Live events rendered for the dashboard's streams: "
                         "once each, whatever the number of streams and of web processes", registry=REGISTRY)
NOTIFICATIONS = Counter("threadcount_notifications", "Notifications sent, by channel and outcome",
                        ["channel", "outcome"], registry=REGISTRY)
SCRAPE_ERRORS = Counter("threadcount_scrape_errors", "Actors that did not answer a scrape in time",
                        ["actor"], registry=REGISTRY)


@dataclass(frozen=True)
class Source:
    """One actor to scrape: the labels its series get, and the call answering its families."""

    labels: Mapping[str, str]
    collect: Callable[[], Awaitable[list[Metric]]]


def alerts_open_family(counts: Mapping[str, int]) -> Metric:
    family = GaugeMetricFamily("threadcount_alerts_open", "Alerts not yet acknowledged, by kind",
                               labels=["kind"])
    for kind, count in sorted(counts.items()):
        family.add_metric([kind], count)
    return family


def merge(parts: Iterable[tuple[Mapping[str, str], Sequence[Metric]]]) -> list[Metric]:
    """Families from several processes as one list: each sample gets its source's labels (never
    overriding a label the sample already has), and families of one name become one."""
    merged: dict[str, Metric] = {}
    for labels, families in parts:
        for family in families:
            into = merged.get(family.name)
            if into is None:
                into = merged[family.name] = Metric(family.name, family.documentation, family.type,
                                                    family.unit)
            for sample in family.samples:
                extra = {k: v for k, v in labels.items() if k not in sample.labels}
                into.samples.append(sample._replace(labels={**extra, **sample.labels}))
    return list(merged.values())


class _Families(Collector):
    def __init__(self, families: list[Metric]):
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def exposition(families: list[Metric]) -> bytes:
    """The Prometheus text format for these families."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)


async def _answer(source: Source, timeout: float) -> list[Metric] | None:
    name = source.labels.get("actor", "?")
    try:
        return await asyncio.wait_for(source.collect(), timeout)
    except Exception as exc:  # late, dead or restarting: skipped this time, counted
        log.debug("metrics: %s did not answer the scrape: %r", name, exc)
        SCRAPE_ERRORS.labels(name).inc()
        return None


async def scrape(sources: Sequence[Source], own: Sequence[Metric] = (),
                 timeout: float = SCRAPE_TIMEOUT) -> bytes:
    """Every source at once, each within `timeout`; the web process's own families first."""
    answers = await asyncio.gather(*(_answer(source, timeout) for source in sources))
    parts: list[tuple[Mapping[str, str], Sequence[Metric]]] = [
        (source.labels, families) for source, families in zip(sources, answers, strict=True)
        if families is not None
    ]
    # after the gather: a skipped actor is counted in this very scrape
    mine = [*REGISTRY.collect(), *own]
    return exposition(merge([({"actor": "web"}, mine), *parts]))


def actor_source(labels: Mapping[str, str], actor: Any) -> Source:
    async def collect() -> list[Metric]:
        families: list[Metric] = await actor.metrics.remote()
        return families

    return Source(labels, collect)
