"""The listening sockets, bound before anything starts so that a busy port is a clear error.

With web workers (service/web_workers.py) every web process has a socket of its own on the one port,
all with SO_REUSEPORT: the kernel hands each new connection to one of them by a hash of its addresses,
so the connections spread evenly. One socket shared by every process had given each connection to
whichever process accepted first, and asyncio accepts all that is waiting at each wake-up: a burst of
64 connections went 60 to 4. Linux lets only sockets of the same user join a port's group, and
`bind(shared=True)` first binds the port alone, so a port another process already serves is still
PortBusy, shared or not."""

from __future__ import annotations

import errno
import socket


class PortBusy(Exception):
    pass


def bind(host: str, port: int, variable: str, what: str, *, shared: bool = False) -> socket.socket:
    """A socket bound to host:port (not yet listening), or PortBusy naming the port and the variable
    that moves it. `shared`: the first of the port's group (join_port adds the others)."""
    try:
        sock = _bound(host, port, reuse_port=False)
        if shared:
            port = sock.getsockname()[1]  # the port chosen, when asked for 0
            sock.close()
            sock = _bound(host, port, reuse_port=True)
    except OSError as exc:
        reason = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be opened ({exc.strerror})"
        raise PortBusy(f"the {what} port {port} on {host} {reason}: stop what holds it, or set {variable} "
                       "to another port") from None
    return sock


def join_port(first: socket.socket) -> socket.socket:
    """One more socket in the group of `first` (bound with shared=True), for a web worker. It takes
    connections once its process listens on it, and its queue goes with it when that process ends."""
    host, port = first.getsockname()[:2]
    return _bound(host, port, reuse_port=True)


def _bound(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(False)
    return sock
