"""A wholesale (SFTP) partner with a real server must say how its host key is checked: a config
error at start names the partner and the settings."""

from __future__ import annotations

import pytest

from sync.config import PartnerConfigError, partners

SERVER = "sftp://edi.distributor.example:22"


def test_an_sftp_partner_with_no_host_key_setting_is_refused_naming_it() -> None:
    with pytest.raises(PartnerConfigError, match=r"^partners\.acme: an SFTP partner needs "
                                                 r"credentials\.host_key_fingerprint"):
        partners({"acme": {"kind": "wholesale", "base_url": SERVER,
                           "credentials": {"username": "u", "password": "p"}}}, env={})


@pytest.mark.parametrize("given", [
    {"credentials": {"host_key_fingerprint": "SHA256:abc"}},
    {"credentials": {"known_hosts": "/etc/threadcount/known_hosts"}},
    {"options": {"insecure_accept_any_host_key": True}},
])
def test_an_sftp_partner_with_a_fingerprint_known_hosts_or_the_insecure_flag_is_accepted(
        given: dict[str, dict[str, object]]) -> None:
    assert partners({"acme": {"kind": "wholesale", "base_url": SERVER, **given}}, env={})["acme"].kind == "wholesale"


def test_the_insecure_flag_must_be_true_itself_and_the_demo_simulator_needs_nothing() -> None:
    with pytest.raises(PartnerConfigError):
        partners({"acme": {"kind": "wholesale", "base_url": SERVER,
                           "options": {"insecure_accept_any_host_key": "maybe"}}}, env={})
    assert partners({"wholesale": {"kind": "wholesale"}}, env={})["wholesale"].base_url == ""
