"""Separate "hosts" on one machine: network namespaces on a bridge, cut off and healed at will.

Layout (all names start with `tcmn-`, the subnet is 10.77.0.0/24): a bridge `tcmn-br0` in the root
namespace holds 10.77.0.1 (the head, the web process and the database relay live there); host k is
the namespace `tcmn-<run>-n<k>` with 10.77.0.(10+k) on its end of a veth pair whose other end,
`tcmn-<run>-v<k>`, is a port of the bridge. A host reaches only the bridge's subnet: no default
route, so nothing of the machine's loopback (the real PostgreSQL, Redis) is visible from it.

`cut` takes the bridge's end of the host's veth down: from that instant no packet goes either way,
established TCP connections stall as they would behind a pulled cable (no RST, no FIN), and the
host's processes keep running. `heal` brings the link up again.

Every command here needs root and iproute2; `remove_stale` deletes whatever an earlier run left
(namespaces, their processes, veths, the bridge), so a crashed run never blocks the next one."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass

PREFIX = "tcmn-"
BRIDGE = "tcmn-br0"
SUBNET = "10.77.0"
HEAD_IP = f"{SUBNET}.1"


class NetnsError(RuntimeError):
    """An `ip` command failed."""


def unavailable_reason() -> str | None:
    """Why hosts cannot be made here (not root, no iproute2), or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "network namespaces need iproute2's `ip`"
    return None


def ip(*args: str, check: bool = True) -> str:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20)
    if check and done.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


@dataclass(frozen=True)
class Host:
    index: int          # 1..N
    netns: str          # tcmn-<run>-n<k>
    veth: str           # the bridge's end, tcmn-<run>-v<k>
    address: str        # 10.77.0.(10+k)

    @property
    def name(self) -> str:
        return f"n{self.index}"

    def command(self, argv: list[str]) -> list[str]:
        """argv run inside this host's namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def pids(self) -> list[int]:
        """Every process living in this host's namespace."""
        out = ip("netns", "pids", self.netns, check=False)
        return [int(p) for p in out.split()]


def make_bridge() -> None:
    ip("link", "add", BRIDGE, "type", "bridge")
    ip("addr", "add", f"{HEAD_IP}/24", "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")


def make_host(run: str, index: int) -> Host:
    host = Host(index, f"{PREFIX}{run}-n{index}", f"{PREFIX}{run}-v{index}", f"{SUBNET}.{10 + index}")
    ip("netns", "add", host.netns)
    ip("link", "add", host.veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
    ip("link", "set", host.veth, "master", BRIDGE, "up")
    ip("-n", host.netns, "addr", "add", f"{host.address}/24", "dev", "eth0")
    ip("-n", host.netns, "link", "set", "eth0", "up")
    ip("-n", host.netns, "link", "set", "lo", "up")
    return host


def cut(host: Host) -> None:
    ip("link", "set", host.veth, "down")


def heal(host: Host) -> None:
    ip("link", "set", host.veth, "up")


def remove_host(host: Host) -> None:
    kill_pids(host.pids())
    ip("link", "del", host.veth, check=False)   # takes its peer in the namespace with it
    ip("netns", "del", host.netns, check=False)


def remove_bridge() -> None:
    ip("link", "del", BRIDGE, check=False)


def kill_pids(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def stale_namespaces() -> list[str]:
    return [line.split()[0] for line in ip("netns", "list").splitlines()
            if line.startswith(PREFIX)]


def stale_links() -> list[str]:
    names = []
    for line in ip("-o", "link", "show").splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(PREFIX):
            names.append(name)
    return names


def remove_stale() -> None:
    """Whatever a run before this one left behind: namespaces (and their processes), veths, bridge."""
    for netns in stale_namespaces():
        kill_pids([int(p) for p in ip("netns", "pids", netns, check=False).split()])
        ip("netns", "del", netns, check=False)
    for link in stale_links():
        ip("link", "del", link, check=False)
