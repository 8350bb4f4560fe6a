"""A loopback HTTP server standing in for Threadcount's webhook ingress in the connector tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from simulators.base import bound_port


@contextlib.asynccontextmanager
async def serving(path: str, handle: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    """POSTs to `path` go to `handle` while this is open; yields the URL to give the partner."""
    app = web.Application()
    app.router.add_post(path, handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{bound_port(site)}{path}"
    finally:
        await runner.cleanup()
