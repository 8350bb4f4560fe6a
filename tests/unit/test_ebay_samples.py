"""eBay's published call samples (the Trading API reference's ReviseInventoryStatus request and
response, a GetOrders request and response), written here in their SOAP form, fed to both sides: the
simulator takes the sample requests, the connector reads the sample responses. Also how strictly the
simulator reads an envelope (unknown elements, wrong namespaces, SOAP 1.2)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest
import zeep
from lxml import etree
from zeep.helpers import serialize_object

from connectors.base import Listing, OrderEventKind, OrderLine
from connectors.ebay_format import BINDING, order_event, push_results
from simulators.base import SimConfig
from simulators.ebay import WSDL, EbaySimulator
from simulators.ebay_orders import order_query
from simulators.ebay_wire import RequestRefused, SoapFault, read_envelope

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TOKEN = "AgAAAA**AQAAAA**aAAAAA**sample-token"


def soap(body: str, token: str | None = TOKEN, env: str = ENV) -> bytes:
    header = (f'<soapenv:Header><RequesterCredentials xmlns="urn:ebay:apis:eBLBaseComponents">'
              f"<eBayAuthToken>{token}</eBayAuthToken></RequesterCredentials></soapenv:Header>"
              if token is not None else "")
    return (f'<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="{env}">{header}'
            f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>").encode()


# The reference's sample: two SKU'd items revised in one call (quantity only, and price with quantity).
REVISE_REQUEST = """<ReviseInventoryStatusRequest xmlns="urn:ebay:apis:eBLBaseComponents">
  <ErrorLanguage>en_US</ErrorLanguage><WarningLevel>High</WarningLevel>
  <InventoryStatus><SKU>SHEET-Q-WHT</SKU><Quantity>40</Quantity></InventoryStatus>
  <InventoryStatus><SKU>SHEET-K-IVY</SKU><StartPrice>14.95</StartPrice><Quantity>12</Quantity></InventoryStatus>
</ReviseInventoryStatusRequest>"""

REVISE_RESPONSE = """<ReviseInventoryStatusResponse xmlns="urn:ebay:apis:eBLBaseComponents">
  <Timestamp>2026-01-15T19:41:59.767Z</Timestamp><Ack>Success</Ack>
  <Version>1423</Version><Build>E1423_CORE_API_19146442_R1</Build>
  <InventoryStatus><SKU>SHEET-Q-WHT</SKU><ItemID>110035400937</ItemID>
    <StartPrice currencyID="USD">19.95</StartPrice><Quantity>40</Quantity></InventoryStatus>
  <InventoryStatus><SKU>SHEET-K-IVY</SKU><ItemID>110035400938</ItemID>
    <StartPrice currencyID="USD">14.95</StartPrice><Quantity>12</Quantity></InventoryStatus>
  <Fees><ItemID>110035400937</ItemID><Fee><Name>AuctionLPFee</Name><Fee currencyID="USD">0.0</Fee></Fee></Fees>
  <Fees><ItemID>110035400938</ItemID><Fee><Name>AuctionLPFee</Name><Fee currencyID="USD">0.0</Fee></Fee></Fees>
</ReviseInventoryStatusResponse>"""

GET_ORDERS_REQUEST = """<GetOrdersRequest xmlns="urn:ebay:apis:eBLBaseComponents">
  <ModTimeFrom>2026-01-14T19:00:00.000Z</ModTimeFrom><ModTimeTo>2026-01-15T19:00:00.000Z</ModTimeTo>
  <OrderRole>Seller</OrderRole><Pagination><EntriesPerPage>50</EntriesPerPage><PageNumber>2</PageNumber></Pagination>
</GetOrdersRequest>"""

GET_ORDERS_RESPONSE = """<GetOrdersResponse xmlns="urn:ebay:apis:eBLBaseComponents">
  <Timestamp>2026-01-15T19:00:01.000Z</Timestamp><Ack>Success</Ack>
  <Version>1423</Version><Build>E1423_CORE_API_19146442_R1</Build>
  <PaginationResult><TotalNumberOfPages>3</TotalNumberOfPages><TotalNumberOfEntries>101</TotalNumberOfEntries></PaginationResult>
  <HasMoreOrders>true</HasMoreOrders>
  <OrderArray>
    <Order>
      <OrderID>23-10451-92321</OrderID><OrderStatus>Completed</OrderStatus>
      <CheckoutStatus><eBayPaymentStatus>NoPaymentFailure</eBayPaymentStatus>
        <LastModifiedTime>2026-01-15T08:30:00.000Z</LastModifiedTime><Status>Complete</Status></CheckoutStatus>
      <CreatedTime>2026-01-14T21:10:00.000Z</CreatedTime>
      <TransactionArray>
        <Transaction><CreatedDate>2026-01-14T21:10:00.000Z</CreatedDate>
          <Item><ItemID>110035400937</ItemID><SKU>SHEET-Q-WHT</SKU></Item>
          <QuantityPurchased>2</QuantityPurchased><TransactionID>0</TransactionID></Transaction>
        <Transaction><CreatedDate>2026-01-14T21:10:00.000Z</CreatedDate>
          <Item><ItemID>110035400940</ItemID></Item><QuantityPurchased>1</QuantityPurchased>
          <TransactionID>28001</TransactionID><Variation><SKU>DUVET-K-GRY</SKU></Variation></Transaction>
      </TransactionArray>
      <BuyerUserID>sheets_fan</BuyerUserID><PaidTime>2026-01-14T21:11:00.000Z</PaidTime>
      <ShippedTime>2026-01-15T08:30:00.000Z</ShippedTime>
    </Order>
  </OrderArray>
  <OrdersPerPage>50</OrdersPerPage><PageNumber>2</PageNumber><ReturnedOrderCountActual>1</ReturnedOrderCountActual>
</GetOrdersResponse>"""


def simulator() -> EbaySimulator:
    return EbaySimulator(SimConfig("ebay", {"auth_token": TOKEN, "app_id": "a", "dev_id": "d", "cert_id": "c"},
                                   ["SHEET-Q-WHT", "SHEET-K-IVY", "DUVET-K-GRY"]))


def connector_reads(call: str, body: str) -> dict[str, Any]:
    """What the connector gets back from zeep for this response envelope."""
    client = zeep.Client(str(WSDL))
    reply = client.wsdl.bindings[BINDING].get(call).process_reply(etree.fromstring(soap(body, token=None)))
    return dict(serialize_object(reply, dict))


def test_the_simulator_takes_the_published_revise_inventory_status_request() -> None:
    sim = simulator()
    answer = sim._revise(read_envelope(soap(REVISE_REQUEST)))
    assert answer.body is not None
    assert b"<ns1:Ack>Success</ns1:Ack>" in bytes(answer.body)  # type: ignore[arg-type]
    assert (sim.listings["SHEET-Q-WHT"], sim.listings["SHEET-K-IVY"]) == (40, 12)


def test_the_connector_reads_the_published_revise_inventory_status_response() -> None:
    payload = connector_reads("ReviseInventoryStatus", REVISE_RESPONSE)
    results = push_results([Listing("SHEET-Q-WHT", 40), Listing("SHEET-K-IVY", 12)], {}, payload)
    assert [(r.sku, r.ok) for r in results] == [("SHEET-Q-WHT", True), ("SHEET-K-IVY", True)]
    assert [s["ItemID"] for s in payload["InventoryStatus"]] == ["110035400937", "110035400938"]


def test_the_simulator_takes_the_published_get_orders_request() -> None:
    query = order_query(read_envelope(soap(GET_ORDERS_REQUEST)), now=datetime(2026, 1, 16, tzinfo=UTC).timestamp())
    assert (query.seller, query.per_page, query.page) == (True, 50, 2)
    assert query.mod_to - query.mod_from == 86400


def test_the_connector_reads_the_published_get_orders_response() -> None:
    payload = connector_reads("GetOrders", GET_ORDERS_RESPONSE)
    assert payload["HasMoreOrders"] is True
    [order] = payload["OrderArray"]["Order"]
    event = order_event(order)
    assert event is not None
    assert (event.event_id, event.kind) == ("23-10451-92321:shipped", OrderEventKind.SHIPPED)
    assert event.lines == (OrderLine("SHEET-Q-WHT", 2), OrderLine("DUVET-K-GRY", 1))


def test_the_envelope_zeep_builds_for_four_items_is_one_the_simulator_reads_with_its_token() -> None:
    client = zeep.Client(str(WSDL))
    service = client.create_service(BINDING, "http://127.0.0.1/wsapi")
    statuses = [{"SKU": f"S{i}", "Quantity": i} for i in range(4)]
    built = client.create_message(service, "ReviseInventoryStatus", Version="1423", InventoryStatus=statuses,
                                  _soapheaders={"RequesterCredentials": {"eBayAuthToken": TOKEN}})
    request = read_envelope(etree.tostring(built))
    assert (request.call, request.token, len(request.fields["InventoryStatus"])) == (
        "ReviseInventoryStatus", TOKEN, 4)


def test_the_simulator_refuses_an_element_the_call_does_not_define_with_error_37() -> None:
    body = REVISE_REQUEST.replace("<Quantity>40</Quantity>", "<Quantity>40</Quantity><Colour>white</Colour>")
    with pytest.raises(RequestRefused) as refused:
        read_envelope(soap(body))
    assert (refused.value.error.code, refused.value.error.params) == ("37", ("Colour",))


def test_the_simulator_refuses_more_than_four_inventory_statuses() -> None:
    five = "".join(f"<InventoryStatus><SKU>SHEET-Q-WHT</SKU><Quantity>{i}</Quantity></InventoryStatus>"
                   for i in range(5))
    body = f'<ReviseInventoryStatusRequest xmlns="urn:ebay:apis:eBLBaseComponents">{five}</ReviseInventoryStatusRequest>'
    sim = simulator()
    with pytest.raises(RequestRefused) as refused:
        sim._revise(read_envelope(soap(body)))
    assert refused.value.error.code == "37" and "InventoryStatus" in refused.value.error.long
    assert sim.listings["SHEET-Q-WHT"] == 0


@pytest.mark.parametrize("raw", [
    soap(REVISE_REQUEST, env="http://www.w3.org/2003/05/soap-envelope"),          # SOAP 1.2
    soap(REVISE_REQUEST.replace("urn:ebay:apis:eBLBaseComponents", "urn:ebay:apis:other")),
    soap(REVISE_REQUEST.replace("ReviseInventoryStatusRequest", "RelistItemRequest")),
    b"<ReviseInventoryStatusRequest/>",
    b"not xml",
])
def test_the_simulator_answers_an_envelope_it_cannot_read_with_a_soap_fault(raw: bytes) -> None:
    with pytest.raises(SoapFault):
        read_envelope(raw)


def test_the_simulators_answers_are_soap_11_envelopes_in_ebays_namespace() -> None:
    answer = simulator()._revise(read_envelope(soap(REVISE_REQUEST)))
    root = ET.fromstring(bytes(answer.body))  # type: ignore[arg-type]
    assert root.tag == f"{{{ENV}}}Envelope"
    assert root[0][0].tag == "{urn:ebay:apis:eBLBaseComponents}ReviseInventoryStatusResponse"


NOW = datetime(2026, 1, 16, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(("change", "field"), [
    (("<ModTimeFrom>", "<CreateTimeFrom>2026-01-14T00:00:00.000Z</CreateTimeFrom><ModTimeFrom>"), "ModTimeFrom"),
    (("2026-01-14T19:00:00.000Z", "2025-11-01T00:00:00.000Z"), "ModTimeFrom"),    # over 30 days back
    (("<ModTimeTo>2026-01-15T19:00:00.000Z</ModTimeTo>", ""), "ModTimeTo"),         # a window needs its end
    (("2026-01-15T19:00:00.000Z", "yesterday"), "ModTimeTo"),
    (("<EntriesPerPage>50<", "<EntriesPerPage>101<"), "Pagination.EntriesPerPage"),
    (("<PageNumber>2<", "<PageNumber>0<"), "Pagination.PageNumber"),
    (("<OrderRole>Seller<", "<OrderRole>Admin<"), "OrderRole"),
])
def test_the_simulator_refuses_get_orders_filters_the_way_ebay_does(change: tuple[str, str], field: str) -> None:
    with pytest.raises(RequestRefused) as refused:
        order_query(read_envelope(soap(GET_ORDERS_REQUEST.replace(*change))), now=NOW)
    assert refused.value.error.code == "37" and field in refused.value.error.long + str(refused.value.error.params)


def test_orders_named_by_id_need_no_time_window() -> None:
    body = ('<GetOrdersRequest xmlns="urn:ebay:apis:eBLBaseComponents"><OrderIDArray><OrderID>1-2-3</OrderID>'
            "</OrderIDArray><OrderRole>Seller</OrderRole></GetOrdersRequest>")
    assert order_query(read_envelope(soap(body)), now=NOW).order_ids == frozenset({"1-2-3"})


def test_a_request_without_requester_credentials_has_no_token() -> None:
    assert read_envelope(soap(REVISE_REQUEST, token=None)).token is None
