"""`python -m simulators PLAN.json`: start the partner simulators a plan names (the demo's
runtime writes the plan), write where each listens to the plan's `ports_file`, and run until SIGTERM.
With the plan's `state_dir` each simulator keeps its state there across restarts (saved at SIGTERM
too)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulators.amazon_sqs_server import MotoSqs, seller_queue
from simulators.base import SimConfig, Simulator
from simulators.registry import simulator_class

log = logging.getLogger("simulators")


async def serve(plan: dict[str, Any]) -> None:
    sims: dict[str, Simulator] = {}
    state_dir = Path(plan["state_dir"]) if plan.get("state_dir") else None
    # Amazon delivers ORDER_CHANGE to the seller's SQS queue: moto's server plays AWS for the demo.
    sqs, queues = MotoSqs(), {}
    for entry in plan["partners"]:
        if entry["kind"] == "amazon":
            if not sqs.endpoint_url:
                sqs.start()
            queues[entry["id"]] = seller_queue(sqs, entry["id"])
            entry["options"] = {**entry.get("options", {}), "sqs_endpoint_url": sqs.endpoint_url}
    for entry in plan["partners"]:
        sim = simulator_class(entry["kind"])(SimConfig(
            partner_id=entry["id"], credentials=entry["credentials"], skus=entry["skus"],
            webhook_url=entry.get("webhook_url"), initial_quantity=entry.get("initial_quantity", 0),
            shopper_interval=entry.get("shopper_interval"), duplicate_rate=entry.get("duplicate_rate", 0.0),
            options=entry.get("options", {}), state_dir=state_dir,
        ))
        await sim.start()
        sims[entry["id"]] = sim
        log.info("%s simulator %s listening at %s%s", entry["kind"], entry["id"], endpoint(sim),
                 "" if entry.get("shopper_interval") else " (shoppers still)")
    where = {pid: {"base_url": sim.base_url, "endpoint": endpoint(sim), **queues.get(pid, {}),
                   **host_key(sim)} for pid, sim in sims.items()}
    ports_file = Path(plan["ports_file"])
    temporary = ports_file.with_suffix(".tmp")
    temporary.write_text(json.dumps(where))
    os.replace(temporary, ports_file)  # whoever waits for the file never reads half of it
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping %d simulators", len(sims))
    await asyncio.gather(*(sim.stop() for sim in sims.values()), return_exceptions=True)
    sqs.stop()
    log.info("stopped")


def endpoint(sim: Simulator) -> str:
    """Where the connector talks to the partner: the HTTP API, or the SFTP server."""
    return str(getattr(sim, "sftp_url", None) or sim.base_url)


def host_key(sim: Simulator) -> dict[str, Any]:
    """An SFTP simulator's host key fingerprint, for its connector to check the server against."""
    fingerprint = getattr(sim, "host_key_fingerprint", None)
    return {"credentials": {"host_key_fingerprint": fingerprint}} if fingerprint else {}


class JsonLines(logging.Formatter):
    """THREADCOUNT_LOG_FORMAT=json, as the service's own lines (kept here: simulators import nothing of
    the service's)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage(),
                "process": "simulators", "pid": record.process}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging() -> None:
    """stdout/stderr is DATA_DIR/simulators.log (the service opens it): what each simulator listens
    on, its refusals and its faults at INFO, library noise at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    json_lines = os.environ.get("THREADCOUNT_LOG_FORMAT", "").strip().lower() == "json"
    handler.setFormatter(JsonLines() if json_lines else
                         logging.Formatter("%(asctime)s %(levelname)s simulators %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.getLogger("simulators").setLevel(logging.INFO)


def main() -> None:
    configure_logging()
    plan = json.loads(Path(sys.argv[1]).read_text())
    asyncio.run(serve(plan))


if __name__ == "__main__":
    main()
