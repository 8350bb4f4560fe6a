"""The web port's servers: uvicorn as the primary and every web worker run it, the primary's Unix
socket for the routes its workers pass on, and a worker process's whole life
(service/web_workers.py describes the design)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from service.config import Settings
from service.ports import join_port
from service.runtime import Runtime
from service.shard_relay import RelayServer, relay_path, serve_relay
from service.web_workers import (
    WebWorkers,
    WorkerPlan,
    private_socket_path,
    unix_listener,
    watch_primary,
    worker_command,
)
from web.dashboard.frames import FrameServer, frames_path, serve_frames
from web.dashboard.stream import fanout
from web.forward import ForwardToPrimary, FromWorkers, WorkerApp
from web.slow_clients import KEEP_ALIVE_S, guarded_protocol
from web.worker_metrics import serve_figures, socket_of, worker_source

log = logging.getLogger(__name__)
FINISH_WAIT = 8.0  # seconds the requests in flight get at a stop


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: run.py owns the signals and the order of shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def web_server(app: Any, settings: Settings) -> QuietServer:
    """The web port's server. With TLS: HTTPS only (a plain HTTP request fails its handshake).
    X-Forwarded-For/-Proto are believed from forwarded_allow_ips only (a reverse proxy on this
    machine by default). A client gets client_timeout for its request's headers (and each body read,
    web/slow_clients)."""
    config = uvicorn.Config(app, host=settings.web_host, port=settings.web_port,
                            log_level="warning", access_log=False, lifespan="off", loop="none",
                            ssl_certfile=settings.tls_cert, ssl_keyfile=settings.tls_key,
                            proxy_headers=True, forwarded_allow_ips=settings.forwarded_allow_ips,
                            http=guarded_protocol(settings.client_timeout), timeout_keep_alive=KEEP_ALIVE_S)
    return QuietServer(config)


class Workers:
    """The primary's side: the Unix sockets its workers pass requests and shard commands to, and the
    worker processes."""

    def __init__(self, app: Any, settings: Settings, config_path: Path, runtime: Runtime, web: socket.socket):
        import ray

        self._path = private_socket_path()
        # its workers' pools let an idle connection go first (web/forward.py), so none sends on one
        # this end is closing
        self._server = QuietServer(uvicorn.Config(FromWorkers(app), log_level="warning", access_log=False,
                                                  lifespan="off", loop="none", proxy_headers=False,
                                                  timeout_keep_alive=KEEP_ALIVE_S))
        self._task = asyncio.ensure_future(self._server.serve(sockets=[unix_listener(self._path)]))
        self._relay: RelayServer | None = None
        self._frames: FrameServer | None = None
        self._runtime = runtime
        self._app = app
        plan = WorkerPlan(0, os.getpid(), ray.get_runtime_context().gcs_address, runtime.shard_names,
                          str(self._path), -1)
        self.processes = WebWorkers(settings.web_workers, worker_command(config_path), plan,
                                    lambda: join_port(web))
        folder = self._path.parent
        app.state.worker_sources = [worker_source(folder, n) for n in range(1, settings.web_workers)]

    async def start(self) -> None:
        """The shard relay (service/shard_relay.py) first: a worker sends its first order as soon as
        it serves."""
        self._relay = await serve_relay(relay_path(self._path.parent), self._runtime.desk.router)
        # the dashboard's frames, rendered here once for every process's streams
        self._frames = await serve_frames(frames_path(self._path.parent), lambda: fanout(self._app))
        self.processes.start()

    async def stop(self) -> None:
        """The workers first (their requests in flight may still need this socket), then the socket."""
        await self.processes.stop()
        if self._relay is not None:
            self._relay.close()
        if self._frames is not None:
            self._frames.close()
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(self._task, FINISH_WAIT)
        with contextlib.suppress(OSError):
            for leftover in self._path.parent.iterdir():
                leftover.unlink()
            self._path.parent.rmdir()


async def serve_worker(settings: Settings, plan: WorkerPlan) -> int:
    """A worker process: join the primary's Ray, then serve the shared port until SIGTERM/SIGINT or
    the primary's end; finish the requests in flight; leave."""
    from service.tracing import start as start_tracing
    from service.tracing import stop as stop_tracing
    from service.worker_runtime import WorkerRuntime
    from web.app import begin_shutdown, create_app

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    start_tracing(f"web-worker-{plan.index}")
    runtime = WorkerRuntime(settings, plan)
    try:
        await runtime.start()
    except Exception as exc:
        log.error("web worker %d did not start: %s", plan.index, exc)
        await runtime.stop()
        return 1
    for sig in (signal.SIGINT, signal.SIGTERM):  # again: Ray's init installs its own SIGTERM handler
        loop.add_signal_handler(sig, stop.set)
    app = create_app(runtime)
    runtime.settle()  # as the primary does: the collector off what start-up built
    app.state.frames_from = frames_path(Path(plan.socket_path).parent)  # web/dashboard/frames.py
    forward = ForwardToPrimary(plan.socket_path)
    server = web_server(WorkerApp(app, forward, plan.index), settings)
    figures = await serve_figures(socket_of(Path(plan.socket_path).parent, plan.index))
    listener = socket.socket(fileno=plan.listen_fd)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    watching = asyncio.create_task(watch_primary(plan.primary_pid, stop))
    log.info("web worker %d (pid %d) serving", plan.index, os.getpid())
    await asyncio.wait({serving, asyncio.create_task(stop.wait())}, return_when=asyncio.FIRST_COMPLETED)
    began = time.monotonic()
    begin_shutdown(app)
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(serving, FINISH_WAIT)
    watching.cancel()
    await figures.cleanup()
    await forward.close()
    await runtime.stop()
    stop_tracing()
    log.info("web worker %d stopped in %.1fs", plan.index, time.monotonic() - began)
    return 0
