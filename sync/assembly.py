"""One partner's sync put together from its configuration and the handles its actor already made
(the database engine, the stock desk, the HTTP session, the hub's publish): the connector with its
rate limiter, the catalog, the order intake and the alerts. Plain code, so it runs without Ray."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from connectors.base import PartnerSpec
from connectors.registry import connector_class
from inventory.desk import Channel, StockDesk
from inventory.events import AlertRaised
from store import queries
from store.alerts import raise_alert
from store.catalog import Catalog
from store.secrets import SecretBox
from sync.calls import Alert
from sync.config import PartnerConfig
from sync.desired import DesiredQuantities
from sync.intake import OrderIntake
from sync.limits import RateLimiter
from sync.partner_sync import PartnerSync, Publish
from sync.rules import ShowRule

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PartnerPlan:
    """What the service decides about one partner: its config, endpoint and credentials, the
    channel its orders are placed on and the rule for what it is shown. `follow`: the channel's
    location codes (None: every location) to resolve again whenever the catalog changes; False:
    the channel's locations stay as given. `box`: seals the credentials the store keeps."""

    config: PartnerConfig
    spec: PartnerSpec
    channel: Channel
    show: ShowRule
    follow: tuple[str, ...] | bool | None = False
    box: SecretBox = field(kw_only=True)


async def assemble(plan: PartnerPlan, engine: Any, desk: StockDesk, session: Any, publish: Publish,
                   empty_buckets: bool = False) -> PartnerSync:
    """The sync, not yet started. `empty_buckets`: the actor was restarted, and its last life may
    have just spent the partner's buckets, so it starts with none."""
    config = plan.config
    catalog = Catalog(engine)
    await catalog.refresh()
    kind = connector_class(config.kind)
    limiter = RateLimiter.under(kind.rates(plan.spec))
    if empty_buckets:
        limiter.drain()
    connector = kind(plan.spec, session, limiter)
    alert = alert_with(engine, publish)
    intake = OrderIntake(config.id, plan.channel, desk, catalog, stored_variants_with(engine), alert)
    polled = "webhook" not in connector.capabilities
    desired = DesiredQuantities(config.id, plan.channel, plan.show, catalog, engine, follow=plan.follow,
                                order_delay_s=config.poll_interval + config.poll_jitter if polled else 0.0)
    return PartnerSync(config, connector, limiter, desired, intake, engine, publish, alert, plan.box)


def stored_variants_with(engine: Any) -> Callable[[str], Awaitable[list[int] | None]]:
    async def stored_variants(order_id: str) -> list[int] | None:
        found = await queries.order(engine, order_id)
        return None if found is None else [line.variant_id for line in found.lines]
    return stored_variants


def alert_with(engine: Any, publish: Publish) -> Alert:
    async def alert(kind: str, key: str, message: str) -> None:
        try:
            raised, new = await raise_alert(engine, kind, key, message)
        except Exception as exc:  # an alert must never stop the sync
            log.warning("could not raise alert %s/%s: %s", kind, key, exc)
            return
        if new:
            await publish(AlertRaised(raised.id, kind, key, message, raised.raised_at))
    return alert
