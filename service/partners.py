"""The partners of a running service: their connector actors, and in demo mode the simulators they
talk to (one child process running all of them, with shoppers).

The web process asks the fleet for status, has it verify a webhook's signature before passing the
delivery to the partner's actor, and asks for retries and reconciliation. A supervisor calls every
actor's `status` every few seconds, which also restarts the sync of an actor Ray restarted.

Bounded: every call the web process makes to a connector (status, retry, a dead letter's retry) is
given at most CALL_WAIT seconds; a connector restarting on a lost node answers ShardUnavailable (a
503 with Retry-After; each of these calls is safe to repeat) rather than holding the request."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors.partner import partner_actor_class
from connectors.base import Connector, PartnerSpec
from connectors.registry import connector_class
from inventory.desk import ShardUnavailable
from service.config import ChannelRule
from service.ray_start import placement, spread_nodes
from simulators.registry import simulator_class
from store import listings as store
from sync.config import PartnerConfig

if TYPE_CHECKING:
    from service.runtime import Runtime

log = logging.getLogger(__name__)
SUPERVISE_EVERY = 2.0
SIMULATORS_READY_WAIT = 30.0
STOP_WAIT = 2.0
CALL_WAIT = 5.0  # seconds the web process waits for a connector's answer (reconcile runs as a job)


class UnknownPartner(LookupError):
    pass


def simulated_by(config: PartnerConfig) -> str:
    """The simulator kind that plays a partner in the demo: its own kind, or, for a partner
    described by configuration (`rest`), the one its `options.simulator` names."""
    return str(config.options.get("simulator") or config.kind)


async def in_daemon_thread(function: Any, *args: Any) -> Any:
    """Like asyncio.to_thread, but the thread is a daemon outside the default executor, so one
    stuck forever neither blocks the loop nor holds the process at exit."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()

    def run() -> None:
        try:
            result = function(*args)
        except BaseException as exc:
            loop.call_soon_threadsafe(_settle, done, None, exc)
        else:
            loop.call_soon_threadsafe(_settle, done, result, None)

    threading.Thread(target=run, name=f"ray-call-{getattr(function, '__name__', 'call')}",
                     daemon=True).start()
    return await done


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class PartnerFleet:
    def __init__(self, runtime: Runtime):
        self.rt = runtime
        self.configs: dict[str, PartnerConfig] = {}
        self.specs: dict[str, PartnerSpec] = {}
        self.verifiers: dict[str, Connector] = {}
        self.actors: dict[str, Any] = {}
        self.sim_urls: dict[str, str] = {}
        self.sim_extras: dict[str, dict[str, Any]] = {}   # options and credentials a simulator adds
        self.last_status: dict[str, dict[str, Any]] = {}
        self.pids: list[int] = []
        self._sims: subprocess.Popen[bytes] | None = None
        self._supervisor: asyncio.Task[None] | None = None

    @property
    def settings(self) -> Any:
        return self.rt.settings

    @property
    def simulator_state_dir(self) -> Path:
        """Where the demo's simulators keep what the partners keep across restarts."""
        return Path(self.settings.data_dir) / "simulators"

    def webhook_url(self, partner_id: str) -> str:
        from service.tls import scheme

        return (f"{scheme(self.settings)}://{self.settings.ingress_host}:{self.settings.ingress_port}"
                f"/webhooks/{partner_id}")

    async def start(self) -> None:
        configs = dict(self.settings.partners)
        simulated = [c for c in configs.values() if not c.base_url and self.settings.demo]
        skipped = [c.id for c in configs.values() if not c.base_url and not self.settings.demo]
        for partner_id in skipped:
            log.warning("partner %s has no base_url and demo is off: not started", partner_id)
            configs.pop(partner_id)
        # A simulator with no saved state is a new shop that knows none of our old tokens or cursors.
        fresh = {c.id for c in simulated if not (self.simulator_state_dir / f"{c.id}.json").exists()}
        endpoints = await self._start_simulators(simulated) if simulated else {}
        for config in configs.values():
            self.configs[config.id] = config
            credentials = dict(config.credentials) or self._demo_credentials(config)
            base_url = endpoints.get(config.id, config.base_url)
            extras = self.sim_extras.get(config.id, {})   # e.g. the demo's SQS queue for Amazon
            self.specs[config.id] = PartnerSpec(config.id, config.kind, base_url,
                                                {**credentials, **extras.get("credentials", {})},
                                                {**config.options, **extras.get("options", {})}, config.name)
            # the actor gets its own copy of the spec; this process only reads it to verify webhooks
            self.verifiers[config.id] = connector_class(config.kind)(self.specs[config.id])
            rule = self.settings.channels.get(config.id) or ChannelRule()
            await store.ensure_partner(self.rt.engine, config.id, config.kind, config.name,
                                       self.sim_urls.get(config.id, base_url), rule.policy, config.options)
            if config.id in fresh:
                await store.clear_state(self.rt.engine, config.id)
        # Creating an actor (and listing the nodes) talks to Ray's GCS synchronously; should Ray go
        # down meanwhile (a signal to the process group), a daemon thread waits instead of the loop.
        nodes = await in_daemon_thread(spread_nodes, self.settings)
        for index, partner_id in enumerate(self.configs):
            await in_daemon_thread(self._start_actor, partner_id, placement(self.settings, index, nodes))
        await asyncio.gather(*(self._ready(pid) for pid in self.actors))
        self._supervisor = asyncio.ensure_future(self._supervise())

    def expected(self) -> list[str]:
        """The partners this service runs: those with a base_url, and with the demo the simulated ones."""
        return [c.id for c in self.settings.partners.values() if c.base_url or self.settings.demo]

    def _start_actor(self, partner_id: str, where: dict[str, Any]) -> None:
        """`where`: its placement (service/ray_start.py): in a cluster the i-th connector on the i-th
        node, like the shards."""
        config = self.configs[partner_id]
        channel = self.rt.channel(partner_id) or self.rt.default_channel(partner_id)
        show = (self.settings.channels.get(partner_id) or ChannelRule()).show
        self.actors[partner_id] = partner_actor_class().options(
            name=f"threadcount-partner-{partner_id}", **where,
        ).remote(config, self.specs[partner_id], channel, show, self.settings.database_url,
                 self.settings.sqlite_synchronous, self.rt.shard_names,
                 follow=(self.settings.channels.get(partner_id) or ChannelRule()).locations,
                 secret_keys=self.rt.secrets.keys, call_timeout=self.settings.call_timeout)

    async def _ready(self, partner_id: str) -> None:
        actor = self.actors[partner_id]
        try:
            if self.settings.ray_address == "local":  # first, so a stop during start-up finds it
                self.pids.append(await actor.pid.remote())
            await actor.ready.remote()
        except Exception as exc:
            log.error("partner %s did not start: %s", partner_id, exc)

    def _demo_credentials(self, config: PartnerConfig) -> dict[str, str]:
        """Demo secrets live in the data folder, so the simulators and connectors agree across restarts."""
        path = self.settings.data_dir / "demo_partner_credentials.json"
        known = json.loads(path.read_text()) if path.exists() else {}
        if config.id not in known:
            known[config.id] = simulator_class(simulated_by(config)).demo_credentials(config.id)
            path.write_text(json.dumps(known, indent=2))
            path.chmod(0o600)
        return dict(known[config.id])

    def _item_master(self, config: PartnerConfig, skus: list[str]) -> dict[str, Any]:
        """A distributor knows our products' GTINs (they are on the packs): its POs carry them."""
        if config.kind != "wholesale":
            return {}
        return {"gtins": {sku: gtin for sku in skus if (gtin := self.rt.catalog.gtin(sku))}}

    async def _start_simulators(self, configs: list[PartnerConfig]) -> dict[str, str]:
        sims = self.settings.simulators
        skus = sorted(self.rt.catalog.skus.values())
        data_dir: Path = self.settings.data_dir
        ports_file = data_dir / "simulators.ports.json"
        ports_file.unlink(missing_ok=True)
        plan = {"ports_file": str(ports_file), "state_dir": str(self.simulator_state_dir), "partners": [{
            "id": c.id, "kind": simulated_by(c), "credentials": self._demo_credentials(c), "skus": skus,
            "webhook_url": self.webhook_url(c.id),
            "options": {**c.options, "root": str(data_dir / "sftp" / c.id), **self._item_master(c, skus),
                        # the public URL the partner's subscription names (Square signs it)
                        "notification_url": c.options.get("webhook_url") or self.webhook_url(c.id)},
            "shopper_interval": sims.shopper_interval if sims.shoppers else None,
            "duplicate_rate": sims.duplicate_rate,
        } for c in configs]}
        plan_file = data_dir / "simulators.plan.json"
        plan_file.write_text(json.dumps(plan))
        plan_file.chmod(0o600)
        log_file = (data_dir / "simulators.log").open("ab")
        self._sims = subprocess.Popen([sys.executable, "-m", "simulators", str(plan_file)],
                                      stdout=log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + SIMULATORS_READY_WAIT
        while not ports_file.exists():
            if self._sims.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the partner simulators did not start (exit code {self._sims.poll()}); "
                                   f"see {data_dir / 'simulators.log'}")
            await asyncio.sleep(0.05)
        where = json.loads(ports_file.read_text())
        self.sim_urls = {pid: w["base_url"] for pid, w in where.items()}
        self.sim_extras = {pid: {key: w[key] for key in ("options", "credentials") if key in w}
                           for pid, w in where.items()}
        return {pid: w["endpoint"] for pid, w in where.items()}

    async def _supervise(self) -> None:
        while True:
            await asyncio.sleep(SUPERVISE_EVERY)
            await asyncio.gather(*(self._refresh(pid) for pid in self.actors), return_exceptions=True)

    async def _refresh(self, partner_id: str) -> dict[str, Any]:
        try:
            found = await asyncio.wait_for(self.actors[partner_id].status.remote(), CALL_WAIT)
        except Exception as exc:
            found = {**self.last_status.get(partner_id, {}), "status": "unreachable", "last_error": str(exc)}
        self.last_status[partner_id] = found
        return found

    # --- what the web process asks -------------------------------------------------------------------

    def actor(self, partner_id: str) -> Any:
        if partner_id not in self.actors:
            raise UnknownPartner(partner_id)
        return self.actors[partner_id]

    def verify(self, partner_id: str, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        verifier = self.verifiers.get(partner_id)
        if verifier is None:
            raise UnknownPartner(partner_id)
        return verifier.verify_webhook(headers, body, url)

    async def status(self) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(self._refresh(pid) for pid in self.actors)))

    async def reconcile(self, partner_id: str) -> dict[str, int]:
        result: dict[str, int] = await self.actor(partner_id).reconcile.remote()
        return result

    async def retry(self, partner_id: str) -> None:
        await self._bounded(partner_id, self.actor(partner_id).retry.remote())

    async def retry_dead_letter(self, partner_id: str, letter_id: int) -> dict[str, Any]:
        result: dict[str, Any] = await self._bounded(
            partner_id, self.actor(partner_id).retry_dead_letter.remote(letter_id))
        return result

    async def _bounded(self, partner_id: str, call: Any) -> Any:
        try:
            return await asyncio.wait_for(call, CALL_WAIT)
        except TimeoutError:
            raise ShardUnavailable(f"partner {partner_id}'s connector did not answer within "
                                   f"{CALL_WAIT:g} s") from None

    async def stop(self, wait: float = STOP_WAIT) -> None:
        """Actors and simulators stop side by side, within `wait`; whatever is left is ended by
        pid with the shards (a partner's unanswered work is redone from the store next time)."""
        if self._supervisor is not None:
            self._supervisor.cancel()
        if self._sims is not None and self._sims.poll() is None:
            self._sims.terminate()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.gather(*(a.stop.remote() for a in self.actors.values()),
                                                  return_exceptions=True), wait)
        if self._sims is not None:
            try:
                await asyncio.to_thread(self._sims.wait, max(wait, 1.0))
            except subprocess.TimeoutExpired:
                self._sims.kill()
