"""A restart: the demo's `run.py` was stopped (SIGTERM to its group, which takes the simulators' process
with it: the simulators are run.py's children, not separate), two partners' shops changed behind our
back while we were away (their saved state edited, as tests/e2e/test_restart.py does: Etsy shows 0 of
everything, Shopify 999), and `python run.py` is started again on the same data folder. The simulators
come back with what they saved; measured: the time from the new start until every simulator shows
what Threadcount desires (the read at start finds the drift and corrects it)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from service.config import ChannelRule
from tests.benchmark.scenarios import READY_TIMEOUT, STOP_TIMEOUT, _say
from tests.benchmark.sync_watch import PARTNERS, Checker, sim_stats
from tests.harness.procs import ServerError, ServerProcess, free_ports

DRIFT = {"etsy": 0, "shopify": 999}  # what each drifted shop shows of every listing after the restart
AGREE_TIMEOUT = 180.0                # from the new start until every simulator agrees
LISTED_TIMEOUT = 60.0                # the partners listed at the new simulators' addresses


def drift_saved_state(data_dir: Path) -> dict[str, int]:
    """Edit the stopped simulators' saved listings; {partner: listings changed}."""
    changed = {}
    for partner, quantity in DRIFT.items():
        state_file = data_dir / "simulators" / f"{partner}.json"
        state = json.loads(state_file.read_text())
        changed[partner] = sum(1 for shown in state["listings"].values() if shown != quantity)
        state["listings"] = dict.fromkeys(state["listings"], quantity)
        state_file.write_text(json.dumps(state))
    return changed


def restart(env: dict[str, str], token: str, log_dir: Path, old_sims: dict[str, str],
            channels: dict[str, ChannelRule], result: dict[str, Any]) -> None:
    """The service stopped already: drift two shops, start it again on the same data folder (new
    ports, as after any restart), time until every simulator agrees, stop it. Fills ``result``."""
    result["drifted_listings"] = drift_saved_state(Path(env["THREADCOUNT_DATA_DIR"]))
    web_port, ingress_port = free_ports(2)
    env = {**env, "THREADCOUNT_WEB_PORT": str(web_port), "THREADCOUNT_INGRESS_PORT": str(ingress_port)}
    server = ServerProcess("threadcount-sync-restarted", [sys.executable, "run.py"], env=env,
                           log_path=log_dir / "threadcount-sync-restarted.log")
    base = f"http://127.0.0.1:{web_port}"
    try:
        server.start()
        started = time.monotonic()
        ready = server.wait_ready(f"{base}/healthz", READY_TIMEOUT)
        result["start_to_ready_s"] = round(ready, 2)
        _say(f"threadcount-sync: started again, ready in {ready:.2f} s; waiting until every simulator agrees")
        asyncio.run(_agree_again(base, token, server, old_sims, channels, started, result))
    except Exception as exc:
        if not isinstance(exc, ServerError):
            exc.add_note(f"last lines of the restarted threadcount-sync log:\n{server.log_tail()}")
        raise
    finally:
        stopped = server.stop(STOP_TIMEOUT)
        if stopped is not None:
            result.update(shutdown_s=stopped.seconds, exit_code=stopped.exit_code)


async def _agree_again(base: str, token: str, server: ServerProcess, old_sims: dict[str, str],
                       channels: dict[str, ChannelRule], started: float, result: dict[str, Any]) -> None:
    async with (httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                  timeout=30, transport=httpx.AsyncHTTPTransport(retries=3)) as api,
                httpx.AsyncClient(timeout=10, transport=httpx.AsyncHTTPTransport(retries=3)) as plain):
        sims = await _listed_anew(api, server, set(old_sims.values()))
        result["start_to_simulators_listed_s"] = round(time.monotonic() - started, 2)
        check = Checker(api, plain, sims, server, channels)
        agreed_at, _ = await check.converged(started + AGREE_TIMEOUT, every=0.1)
        result["start_to_agreed_s"] = round(agreed_at - started, 2)
        _say(f"threadcount-sync: every simulator agrees {agreed_at - started:.2f} s after the new start")
        with contextlib.suppress(Exception):
            result["rate_limited"] = {p: (await sim_stats(plain, sims[p])).get("rate_limited", 0)
                                      for p in PARTNERS}
        result["check_transport_errors"] = check.transport_errors


async def _listed_anew(api: httpx.AsyncClient, server: ServerProcess, old: set[str]) -> dict[str, str]:
    """{partner: simulator URL} once every partner is listed at its new simulator (the stored rows keep
    the old addresses until the new simulators are up)."""
    deadline = time.monotonic() + LISTED_TIMEOUT
    while True:
        server.check_alive()
        with contextlib.suppress(httpx.TransportError):
            rows = (await api.get("/api/v1/partners")).raise_for_status().json()
            found = {row["id"]: str(row.get("base_url") or "").rstrip("/") for row in rows}
            if all(found.get(p) and found[p] not in old for p in PARTNERS):
                return {p: found[p] for p in PARTNERS}
        if time.monotonic() > deadline:
            raise TimeoutError(f"the partners were not listed at new simulators within {LISTED_TIMEOUT:g} s")
        await asyncio.sleep(0.1)
