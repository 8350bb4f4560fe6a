"""`python -m tests.harness.tcp_relay LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT`: a TCP relay.

The multi-node harness's hosts live in network namespaces that cannot see the machine's loopback,
where PostgreSQL listens; this relay, on the bridge's address, forwards each connection to it. A
host that is cut off then loses its database connections as a real cut would: its packets stop, the
relay's side towards PostgreSQL stays open (as a real server's would, until TCP gives up), and
nothing is closed for it. It prints `ready` once it listens. Run as its own process so the test's
event loop (the clients measuring latencies) never shares a GIL with the relayed traffic."""

from __future__ import annotations

import asyncio
import contextlib
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def relay(listen_host: str, listen_port: int, target_host: str, target_port: int) -> None:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(accept, listen_host, listen_port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    host, port, target, target_port = sys.argv[1:5]
    asyncio.run(relay(host, int(port), target, int(target_port)))
