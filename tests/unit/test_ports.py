"""The web port's sockets: with web workers each process listens on a socket of its own in one
SO_REUSEPORT group, so a burst of connections is spread over them rather than taken by whichever
process wakes first; a port something else serves is still a clear error."""

from __future__ import annotations

import selectors
import socket

import pytest

from service.ports import PortBusy, bind, join_port

pytestmark = pytest.mark.unit


def _accept_all(listeners: list[socket.socket], expected: int) -> list[int]:
    """How many of `expected` waiting connections each listener accepts."""
    counts = [0] * len(listeners)
    with selectors.DefaultSelector() as selector:
        for n, sock in enumerate(listeners):
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, n)
        while sum(counts) < expected:
            events = selector.select(timeout=5)
            assert events, f"only {sum(counts)} of {expected} connections arrived"
            for key, _ in events:
                connection, _ = key.fileobj.accept()  # type: ignore[union-attr]
                connection.close()
                counts[key.data] += 1
    return counts


def test_a_burst_of_connections_is_spread_over_the_sockets_of_a_shared_port() -> None:
    first = bind("127.0.0.1", 0, "THREADCOUNT_WEB_PORT", "web", shared=True)
    second = join_port(first)
    listeners = [first, second]
    for sock in listeners:
        sock.listen(128)
    port = first.getsockname()[1]
    assert second.getsockname()[1] == port
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
    try:
        counts = _accept_all(listeners, 64)
    finally:
        for sock in [*clients, *listeners]:
            sock.close()
    assert min(counts) >= 12, counts  # by a hash of each connection's addresses: about half each


def test_a_worker_socket_not_yet_listening_takes_no_connections() -> None:
    first = bind("127.0.0.1", 0, "THREADCOUNT_WEB_PORT", "web", shared=True)
    first.listen(128)
    idle = join_port(first)  # a worker still starting
    clients = [socket.create_connection(("127.0.0.1", first.getsockname()[1])) for _ in range(16)]
    try:
        assert _accept_all([first], 16) == [16]
    finally:
        for sock in [*clients, first, idle]:
            sock.close()


@pytest.mark.parametrize("shared", [False, True])
def test_a_port_another_process_serves_is_busy_shared_or_not(shared: bool) -> None:
    other = bind("127.0.0.1", 0, "X", "other", shared=True)  # even a group this user could join
    other.listen(8)
    port = other.getsockname()[1]
    try:
        with pytest.raises(PortBusy, match=f"the web port {port} on 127.0.0.1 is in use.*THREADCOUNT_WEB_PORT"):
            bind("127.0.0.1", port, "THREADCOUNT_WEB_PORT", "web", shared=shared)
    finally:
        other.close()
