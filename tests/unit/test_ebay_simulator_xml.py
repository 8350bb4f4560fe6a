"""The eBay simulator reads SOAP bodies from anyone on its port: no DTDs, no entity expansion."""

from __future__ import annotations

import pytest

from simulators.ebay_wire import SoapFault, read_envelope

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>&lol2;</soapenv:Body></soapenv:Envelope>"""


def test_a_body_with_entity_declarations_is_a_client_fault_not_expanded() -> None:
    with pytest.raises(SoapFault) as fault:
        read_envelope(LAUGHS)
    assert fault.value.code == "soapenv:Client"
    assert "not well-formed" in str(fault.value)
