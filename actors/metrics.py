"""Prometheus figures kept inside one process (a shard, a partner connector, the hub, the web
process), each in its own CollectorRegistry so several of them can live in one test process. A Ray
actor answers `metrics()` with `families()`: plain prometheus_client Metric objects (picklable),
which the web process merges into one scrape (service/metrics.py) with labels naming the actor.

Hot path: a counter increment per order and a histogram observation per batch or commit; nothing
else runs until a scrape asks."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

disable_created_metrics()  # no `_created` series: counters are plain totals, as dashboards expect

BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
OrderSeen = Callable[[str, str], None]  # channel, status


def orders_counter(registry: CollectorRegistry) -> Counter:
    return Counter("threadcount_orders", "Orders placed through this process, by channel and the status "
                   "they were placed in (refused: not applied; duplicate: seen before)",
                   ["channel", "status"], registry=registry)


def counting(counter: Counter) -> OrderSeen:
    """The StockDesk's `on_placed` hook for this counter."""
    def seen(channel: str, status: str) -> None:
        counter.labels(channel, status).inc()

    return seen


def families(registry: CollectorRegistry, extra: Iterable[Metric] = ()) -> list[Metric]:
    """What `metrics()` answers: the registry's families, then any computed at the scrape."""
    return [*registry.collect(), *extra]


class ShardMetrics:
    """A shard's figures: commands per batch it was handed, and seconds per group commit."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.batch_size = Histogram("threadcount_shard_batch_size", "Commands per batch a shard applied",
                                    buckets=BATCH_BUCKETS, registry=self.registry)
        self.commit_seconds = Histogram("threadcount_shard_commit_seconds",
                                        "Seconds per group commit (one transaction for every batch queued)",
                                        buckets=SECONDS_BUCKETS, registry=self.registry)

    def families(self) -> list[Metric]:
        return families(self.registry)


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter("threadcount_hub_events", "Committed events the hub fanned out",
                              registry=self.registry)

    def families(self) -> list[Metric]:
        return families(self.registry)


class PartnerMetrics:
    """A partner connector's figures: orders it placed, push lag per listing (desired → told), and at
    the scrape its failed calls and rate-limit use, read from the sync's own counters."""

    def __init__(self, partner_id: str) -> None:
        self.partner_id = partner_id
        self.registry = CollectorRegistry()
        self.orders = orders_counter(self.registry)
        self.push_lag = Histogram("threadcount_partner_push_lag_seconds",
                                  "Seconds from a desired quantity changing to the partner being told",
                                  ["partner"], buckets=LAG_BUCKETS, registry=self.registry)
        self.observe_lag = self.push_lag.labels(partner_id).observe

    def families(self, errors_total: int | None, rate_limit_use: dict[str, float]) -> list[Metric]:
        errors = CounterMetricFamily("threadcount_partner_errors", "Failed calls to the partner",
                                     labels=["partner"])
        if errors_total is not None:
            errors.add_metric([self.partner_id], errors_total)
        use = GaugeMetricFamily("threadcount_partner_rate_limit_use",
                                "Share of the partner's rate-limit bucket in use (0..1)",
                                labels=["partner", "bucket"])
        for bucket, used in sorted(rate_limit_use.items()):
            use.add_metric([self.partner_id, bucket], used)
        return families(self.registry, [errors, use])
