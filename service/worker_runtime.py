"""A web worker's Runtime (service/web_workers.py): the primary's stock shards, event hub and store,
and none of the primary's own services. It migrates nothing and starts no actor: it joins the
primary's Ray as a second driver and finds the hub by name. Its commands reach the shards through
the primary's router (service/shard_relay.py), so the shards batch every process's commands
together; it holds no shard handle of its own (/readyz and /metrics are the primary's)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from actors.hub import HUB_NAME
from service.config import Settings
from service.events import EventFeed
from service.hold_keeper import HoldKeeper
from service.ray_security import secure_ray
from service.runtime import Runtime
from service.shard_relay import RelayClient, relay_path
from service.web_workers import WorkerPlan
from store.catalog import Catalog
from store.engine import make_engine

log = logging.getLogger(__name__)
CATALOG_REFRESH = 30.0  # seconds
# Batches a worker has on their way to the primary's router per shard. The primary's router is what
# holds a shard to batching.max_inflight calls and merges; a worker that also waited for its one batch
# to come back before sending the next made its orders wait for two of the shard's calls, not one.
# Measured on two cores, 64 clients, two processes (orders/s of the two): 4 in flight 936-1,120
# (p99 156-208 ms), 8: 892 and 990, 16: 859-1,168 (p99 192-234 ms); 2: 1,124 and 1,181 on a quieter
# machine. Within the runs' noise of each other; 4 a little ahead on average and on p99.
RELAY_INFLIGHT = 4


class PrimaryTimesHolds(HoldKeeper):
    """A hold made or converted here is timed by the primary's keeper, which reads every hold from
    the store when it starts and settles each expiry by a conditional write: nothing to do here."""

    def watch(self, hold_id: str, expires_at: float) -> None:
        pass

    def forget(self, hold_id: str) -> None:
        pass


class WorkerRuntime(Runtime):
    def __init__(self, settings: Settings, plan: WorkerPlan):
        super().__init__(settings)
        self.plan = plan
        self.hold_keeper = PrimaryTimesHolds(self)
        self._refresher: asyncio.Task[None] | None = None
        self._relay: RelayClient | None = None

    async def start(self) -> None:
        self.prepare_secrets()  # the key and the API token the primary made
        self._engine = make_engine(self.settings.database_url, self.settings.sqlite_synchronous)
        self._catalog = Catalog(self._engine)
        await self._catalog.refresh()
        self._hub = await asyncio.to_thread(self._join_ray)
        self._shard_names = list(self.plan.shard_names)
        # to the shards through the primary's router (service/shard_relay.py: one router per machine)
        self._relay = RelayClient(relay_path(Path(self.plan.socket_path).parent))
        self._desk = self.desk_over(self._relay.send, len(self._shard_names), max_inflight=RELAY_INFLIGHT)
        # Publishes only: the streams here take the primary's rendered frames (web/dashboard/frames.py),
        # and every process that follows the hub costs the hub and itself work per event. So the
        # catalog is refreshed every CATALOG_REFRESH seconds (and a SKU, kit or location code it does
        # not know is looked up in the store at once).
        self._events = EventFeed(self.catalog, self._hub)
        self._refresher = asyncio.ensure_future(self._refresh_catalog())
        self.ready = True

    async def _refresh_catalog(self) -> None:
        while True:
            await asyncio.sleep(CATALOG_REFRESH)
            try:
                await self.catalog.refresh()
            except Exception as exc:  # the store did not answer: next time
                log.warning("web worker: the catalog was not refreshed: %s", exc)

    def _join_ray(self) -> Any:
        """The event hub's handle, once this process has joined the primary's Ray."""
        import ray

        local = self.settings.ray_address == "local"
        options: dict[str, Any] = secure_ray(self.settings.data_dir, local=local)
        ray.init(address=self.plan.gcs_address, namespace="threadcount", logging_level=logging.ERROR,
                 log_to_driver=False, **options)
        return ray.get_actor(HUB_NAME)

    async def stop(self) -> None:
        """After the worker's server has finished its requests in flight."""
        self.ready = False
        if self._refresher is not None:
            self._refresher.cancel()
        if self._events is not None:
            await self._events.stop()
        if self._desk is not None:
            await self._desk.router.close()
        if self._relay is not None:
            await self._relay.close()
        if self._engine is not None:
            await self._engine.dispose()
        # Ray is left as the process exits: this driver owns no actor and no task, and a clean
        # ray.shutdown took seconds on a busy machine for nothing.
