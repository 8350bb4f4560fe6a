"""The wholesale simulator's SFTP server: asyncssh with password auth against the simulator's
credentials, chrooted to its folder, with the simulator's faults in front of every request (`down`
refuses logins and drops open connections at their next request, `error_rate` fails that share of
requests, `latency_ms` delays each) and the moment each file gets its final name noted.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import random
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import asyncssh
from asyncssh.connection import SSHConnection

if TYPE_CHECKING:
    from simulators.wholesale import WholesaleSimulator


async def listen(sim: WholesaleSimulator, host: str, port: int,
                 host_key: asyncssh.SSHKey) -> asyncssh.SSHAcceptor:
    """Serve the simulator's folder over SFTP on host:port (0: a free port)."""
    return await asyncssh.listen(
        host, port, server_host_keys=[host_key],
        server_factory=lambda: _Gatekeeper(sim), sftp_factory=lambda chan: _Files(chan, sim),
        allow_scp=False, config=None)


async def _gate(sim: WholesaleSimulator, conn: SSHConnection) -> None:
    """Apply the faults to one SFTP request."""
    sim.stats["requests"] += 1
    if sim.faults.down:
        sim.stats["refused_down"] += 1
        conn.abort()
        raise asyncssh.SFTPConnectionLost("the distributor's server is down")
    if sim.faults.latency_ms:
        await asyncio.sleep(sim.faults.latency_ms / 1000)
    if sim.faults.error_rate and random.random() < sim.faults.error_rate:
        sim.stats["errors_injected"] += 1
        raise asyncssh.SFTPFailure("Internal error (injected by the simulator)")


class _Gatekeeper(asyncssh.SSHServer):
    """Password auth against the simulator's credentials; refuses everyone while `down`."""

    def __init__(self, sim: WholesaleSimulator):
        self._sim = sim
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._sim.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._sim.connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        if self._sim.faults.down:
            self._sim.stats["refused_down"] += 1
            raise asyncssh.DisconnectError(asyncssh.DISC_SERVICE_NOT_AVAILABLE, "server is down")
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        expected = self._sim.config.credentials
        # `&`, not `and`: both comparisons always run, so timing does not tell which one failed.
        ok = hmac.compare_digest(username.encode(), expected.get("username", "").encode()) & \
            hmac.compare_digest(password.encode(), expected.get("password", "").encode())
        self._sim.stats["logins" if ok else "logins_refused"] += 1
        return ok


class _Files(asyncssh.SFTPServer):
    """The chrooted file server, with the simulator's faults in front of each request and the
    moment each file gets its final name noted."""

    def __init__(self, chan: asyncssh.SSHServerChannel, sim: WholesaleSimulator):
        super().__init__(chan, chroot=os.fsencode(sim.root))
        self._sim = sim
        self._conn = chan.get_connection()

    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        await _gate(self._sim, self._conn)
        return super().open(path, pflags, attrs)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        await _gate(self._sim, self._conn)
        async for name in super().scandir(path):
            yield name

    async def stat(self, path: bytes) -> Any:
        await _gate(self._sim, self._conn)
        return super().stat(path)

    async def remove(self, path: bytes) -> None:
        await _gate(self._sim, self._conn)
        super().remove(path)

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        await _gate(self._sim, self._conn)
        super().rename(oldpath, newpath)
        self._sim.note_arrival(self.map_path(newpath))

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        await _gate(self._sim, self._conn)
        super().posix_rename(oldpath, newpath)
        self._sim.note_arrival(self.map_path(newpath))
