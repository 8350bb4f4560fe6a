"""Start Threadcount: Ray, the stock shards, the web app (dashboard + REST API) and the webhook
ingress, in one command. SIGINT or SIGTERM stops taking work, finishes what was acknowledged and
exits 0.

    python run.py [--config PATH]
    python run.py check [--config PATH]      # prove stock rows equal the ledger fold
    python run.py rotate-secrets [--config PATH]   # with the service stopped: a new key for partner secrets
    python run.py --help | --version
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from service.cli_help import help_epilog
from service.config import ConfigError, Settings, load_settings
from service.logs import configure_command, configure_service, configure_worker
from service.ports import PortBusy, bind
from service.runtime import Runtime, StartupError
from service.tls import scheme, server_context
from service.tracing import start as start_tracing
from service.tracing import stop as stop_tracing
from service.version import VERSION
from service.web_workers import PLAN_VARIABLE, WorkerPlan, few_cpus_warning

log = logging.getLogger("threadcount")


def banner(runtime: Runtime) -> str:
    s = runtime.settings
    from web.dashboard.users import password_file

    token = f"the token in {runtime.token_file}" if runtime.token_file else "THREADCOUNT_ADMIN_TOKEN"
    web_at = f"{scheme(s)}://{s.web_host}:{s.web_port}"
    password = "THREADCOUNT_ADMIN_PASSWORD" if s.admin_password else f"the password in {password_file(s)}"
    return "\n".join([
        f"Threadcount is ready in {runtime.ready_after:.1f}s "
        f"({len(runtime.shard_names)} stock shards, store {s.database_url.split('://')[0]})",
        f"  dashboard  {web_at}/  (log in as admin with {password})",
        f"  REST API   {web_at}/api/v1  "
        f"(OpenAPI: /api/v1/openapi.json; Authorization: Bearer <{token}>)",
        f"  webhooks   {scheme(s)}://{s.ingress_host}:{s.ingress_port}/webhooks/<partner_id>",
        *([f"  partners   {len(runtime.partners.expected())} connectors starting in the background"
           + (" with their demo simulators (GET /api/v1/partners lists them)" if s.demo else "")]
          if runtime.partners.expected() else []),
        f"  logs       {s.data_dir / 'logs'}/ (readiness: {web_at}/readyz)",
        "  stop with Ctrl-C",
    ])


@dataclass
class Listeners:
    """The web port's and the ingress's sockets, bound before anything starts."""

    web: socket.socket
    ingress: socket.socket


def listen(settings: Settings) -> Listeners:
    web_socket = bind(settings.web_host, settings.web_port, "THREADCOUNT_WEB_PORT", "web",
                      shared=settings.web_workers > 1)
    try:
        ingress_socket = bind(settings.ingress_host, settings.ingress_port, "THREADCOUNT_INGRESS_PORT",
                              "ingress")
    except PortBusy:
        web_socket.close()
        raise
    return Listeners(web_socket, ingress_socket)


async def serve(settings: Settings, listeners: Listeners, config_path: Path) -> int:
    from web.app import begin_shutdown, create_app
    from web.forward import Tagged
    from web.ingress import create_ingress
    from web.serving import Workers, web_server

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def take_signals() -> None:
        # Again after ray.init: Ray's core installs its own SIGTERM handler, which would kill us
        # before the acknowledged work is finished.
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

    take_signals()
    start_tracing("web")  # before the app: its request spans come from a middleware
    runtime = Runtime(settings, on_ray_started=take_signals)

    app = create_app(runtime)
    server = web_server(Tagged(app) if settings.web_workers > 1 else app, settings)
    web_task = asyncio.create_task(server.serve(sockets=[listeners.web]))
    # aiohttp closes a connection that has not sent a whole request within keepalive_timeout
    ingress = web.AppRunner(create_ingress(runtime, settings.client_timeout), access_log=None,
                            keepalive_timeout=settings.client_timeout)
    await ingress.setup()
    await web.SockSite(ingress, listeners.ingress, ssl_context=server_context(settings)).start()

    workers: Workers | None = None
    starting = asyncio.create_task(runtime.start())
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopped, web_task}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if starting.done() and starting.exception() is None:
        runtime.settle()  # what start-up built lives for the whole run: the collector off it
        if settings.web_workers > 1:
            if (warning := few_cpus_warning(settings.web_workers, os.cpu_count())) is not None:
                log.warning("%s", warning)
            workers = Workers(app, settings, config_path, runtime, listeners.web)
            await workers.start()
        print(banner(runtime), flush=True)
        await asyncio.wait({stopped, web_task}, return_when=asyncio.FIRST_COMPLETED)
    elif starting.done():
        log.error("start-up failed: %s", starting.exception())
        code = 1
    if web_task.done() and not stop.is_set():
        log.error("the web server stopped: is port %s free?", settings.web_port)
        code = 1

    began = time.monotonic()
    starting.cancel()
    if workers is not None:
        await workers.stop()
    begin_shutdown(app)  # end the live event streams, which would hold the server open
    server.should_exit = True  # stop accepting; in-flight requests finish
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(web_task, 8)
    await ingress.cleanup()
    await runtime.stop()
    stop_tracing()  # what is still buffered goes out before os._exit
    log.info("stopped in %.1fs", time.monotonic() - began)
    return code


async def check(settings: Settings) -> int:
    from store.check import check_ledger
    from store.engine import make_engine
    from store.migrate import upgrade

    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    mismatches = await check_ledger(engine)
    await engine.dispose()
    for m in mismatches:
        print(f"variant {m.variant_id} at location {m.location_id}: {m.what}: "
              f"stock row {m.stock_row}, expected {m.expected}")
    print("ledger check:", "OK, stock rows equal the ledger fold" if not mismatches
          else f"{len(mismatches)} mismatches")
    return 1 if mismatches else 0


async def rotate_secrets(settings: Settings) -> int:
    from service.secret_keys import rotate_secrets
    from store.secrets import SecretKeyError

    # a running service would go on sealing with the key this drops
    with contextlib.suppress(OSError), socket.create_connection((settings.web_host, settings.web_port), 1):
        print(f"threadcount: something answers on {settings.web_host}:{settings.web_port}: stop the service "
              f"before rotate-secrets", file=sys.stderr)
        return 2
    try:
        print(await rotate_secrets(settings))
    except SecretKeyError as exc:
        print(f"threadcount: {exc}", file=sys.stderr)
        return 2
    return 0


def run_worker(settings: Settings) -> int:
    """A web worker (service/web_workers.py): started by `serve` with its plan in the environment."""
    from web.serving import serve_worker

    plan_text = os.environ.get(PLAN_VARIABLE)
    if not plan_text:
        print(f"threadcount: `worker` is started by `python run.py` itself (THREADCOUNT_WEB_WORKERS); "
              f"{PLAN_VARIABLE} is not set", file=sys.stderr)
        return 2
    plan = WorkerPlan.from_env(plan_text)
    configure_worker(settings.log_format, settings.data_dir, plan.index)
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop_runner:
        code = loop_runner.run(serve_worker(settings, plan))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="run.py", description="Threadcount: real-time inventory, one truth about stock for all channels",
        epilog=help_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="serve",
                        choices=["serve", "check", "rotate-secrets", "worker"],
                        help="what to do (default: serve; `worker` is started by serve itself, "
                             "with THREADCOUNT_WEB_WORKERS)")
    parser.add_argument("--config", type=Path, default=Path(__file__).with_name("config.yaml"),
                        help="the YAML settings file (default: config.yaml beside run.py)")
    parser.add_argument("--version", action="version", version=f"threadcount {VERSION}")
    args = parser.parse_args(argv)
    # Whatever the service and its children (Ray's workers, the demo's simulators) create is their
    # user's only: the SQLite -wal/-shm files, logs, the simulators' state in the data folder.
    os.umask(0o077)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(args.config)
        if args.command == "worker":
            return run_worker(settings)
        if args.command == "serve":
            configure_service(settings.log_format, settings.data_dir)
        else:
            configure_command(settings.log_format, args.command)
        server_context(settings)  # a certificate and key that do not load stop us here, not later
        Runtime(settings).check_settings()
        listeners = listen(settings) if args.command == "serve" else None
    except (ConfigError, StartupError, PortBusy) as exc:
        print(f"threadcount: {exc}", file=sys.stderr)
        return 2
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop_runner:
        if listeners is not None:
            code = loop_runner.run(serve(settings, listeners, args.config))
        else:
            code = loop_runner.run(check(settings) if args.command == "check" else rotate_secrets(settings))
    if listeners is not None:
        # Everything acknowledged is committed and the store is closed. If Ray's own processes died
        # with the process group, its shutdown (or Ray's atexit hook) would wait out long timeouts
        # for them: leave now.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
