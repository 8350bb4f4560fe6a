"""The wholesale connector checks the SFTP server's host key before it sends the password: a pinned
fingerprint or a known_hosts file (path or text); with neither it refuses unless told to accept any."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest
import pytest_asyncio

from connectors.base import PartnerRejected, PartnerSpec
from connectors.wholesale import WholesaleConnector
from simulators.base import SimConfig
from simulators.wholesale import WholesaleSimulator
from sync.limits import RateLimiter


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[WholesaleSimulator]:
    simulator = WholesaleSimulator(SimConfig("acme", WholesaleSimulator.demo_credentials("acme"), ["SKU-1"]))
    await simulator.start(port=0)
    yield simulator
    await simulator.stop()


def connector(sim: WholesaleSimulator, credentials: dict[str, str], options: dict[str, Any] | None = None
              ) -> WholesaleConnector:
    spec = PartnerSpec("acme", "wholesale", sim.sftp_url, {**sim.config.credentials, **credentials}, options or {})
    return WholesaleConnector(spec, None, RateLimiter.under(WholesaleConnector.rates(spec)))


def known_hosts_line(sim: WholesaleSimulator, key: asyncssh.SSHKey) -> str:
    public = key.export_public_key("openssh").decode().split()
    return f"[127.0.0.1]:{sim.sftp_port} {public[0]} {public[1]}\n"


async def test_a_server_whose_key_does_not_match_the_fingerprint_is_refused_before_our_password(
        sim: WholesaleSimulator) -> None:
    impostor = connector(sim, {"host_key_fingerprint": "SHA256:" + "A" * 43})
    with pytest.raises(PartnerRejected, match="host key"):
        await impostor.start()
    assert sim.stats["logins"] == 0 and sim.stats["logins_refused"] == 0


async def test_a_partner_with_neither_fingerprint_nor_known_hosts_refuses_to_connect(sim: WholesaleSimulator) -> None:
    blind = connector(sim, {})
    with pytest.raises(PartnerRejected, match="host_key_fingerprint or known_hosts"):
        await blind.start()
    assert sim.stats["logins"] == 0


async def test_the_right_fingerprint_connects(sim: WholesaleSimulator) -> None:
    good = connector(sim, {"host_key_fingerprint": sim.host_key_fingerprint})
    await good.start()
    await good.close()
    assert sim.stats["logins"] == 1


async def test_a_known_hosts_file_or_text_with_the_key_connects_and_one_with_another_key_is_refused(
        sim: WholesaleSimulator, tmp_path: Path) -> None:
    assert sim.host_key is not None
    right, wrong = tmp_path / "known_hosts", tmp_path / "other_known_hosts"
    right.write_text(known_hosts_line(sim, sim.host_key))
    wrong.write_text(known_hosts_line(sim, asyncssh.generate_private_key("ssh-ed25519")))
    for known in (str(right), right.read_text()):
        good = connector(sim, {}, {"known_hosts": known})
        await good.start()
        await good.close()
    with pytest.raises(PartnerRejected, match="host key"):
        await connector(sim, {"known_hosts": str(wrong)}).start()
    assert sim.stats["logins"] == 2


async def test_any_host_key_is_accepted_only_when_the_partner_says_so(sim: WholesaleSimulator) -> None:
    insecure = connector(sim, {}, {"insecure_accept_any_host_key": True})
    await insecure.start()
    await insecure.close()
    assert sim.stats["logins"] == 1


async def test_a_restarted_distributor_keeps_its_host_key_so_a_pinned_connector_still_connects(tmp_path: Path) -> None:
    config = SimConfig("acme", WholesaleSimulator.demo_credentials("acme"), ["SKU-1"], state_dir=tmp_path)
    first = WholesaleSimulator(config)
    await first.start(port=0)
    pinned = first.host_key_fingerprint
    await first.stop()
    again = WholesaleSimulator(config)
    await again.start(port=0)
    try:
        assert again.host_key_fingerprint == pinned
        assert (tmp_path / "acme.host_key").stat().st_mode & 0o777 == 0o600
        good = connector(again, {"host_key_fingerprint": pinned})
        await good.start()
        await good.close()
    finally:
        await again.stop()
