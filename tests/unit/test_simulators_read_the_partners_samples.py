"""The simulators against the partners' own published samples, not against our connectors: a
simulator that only agrees with the connector would share its mistakes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from simulators import amazon_wire, edi, etsy_wire, shopify_wire, square_wire
from simulators.amazon import AmazonSimulator
from simulators.base import SimConfig

# PARTNERS.md, "Wholesale distributors": the 846 we send, in an envelope written here by hand.
ISA = "ISA*00*          *00*          *ZZ*THREADCOUNT    *ZZ*DISTRIBUTOR    *260115*1200*U*00401*000000005*0*P*>~"
ADVICE_846 = (ISA + "GS*IB*THREADCOUNT*DISTRIBUTOR*20260115*1200*5*X*004010~ST*846*0001~"
              "BIA*00*SI*INV-20260115*20260115~LIN**SK*SHEET-Q-WHT~QTY*33*500*EA~CTT*1~SE*{se01}*0001~"
              "GE*1*5~IEA*1*000000005~")
# PARTNERS.md, "Wholesale distributors": the published 850 line, in an envelope written here by hand.
SAMPLE_850 = (
    "ISA*00*          *00*          *ZZ*DISTRIBUTOR    *ZZ*THREADCOUNT    *260427*0915*U*00401*000000031*0*P*>~"
    "GS*PO*DISTRIBUTOR*THREADCOUNT*20260427*0915*31*X*004010~ST*850*0001~"
    "BEG*00*SA*PO-10001**20260427~PO1*1*10*EA*3.50**VP*SHEET-Q-WHT*BP*DIST-4471*UP*012345678905~"
    "CTT*1~SE*5*0001~GE*1*31~IEA*1*000000031~")


def test_the_standard_webhooks_test_vector_signs_as_published() -> None:
    signature = etsy_wire.webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                            "1614265330", b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_distributor_reads_the_published_846() -> None:
    interchange = edi.read(ADVICE_846.format(se01=6))
    assert (interchange.sender.id, interchange.receiver.id) == ("THREADCOUNT", "DISTRIBUTOR")
    [(functional_id, _, [advice])] = interchange.groups
    assert functional_id == "IB"
    assert edi.inventory_advice(advice) == [("SHEET-Q-WHT", 500)]


def test_the_distributor_refuses_an_846_whose_se01_miscounts() -> None:
    with pytest.raises(edi.EdiError, match="SE01"):
        edi.read(ADVICE_846.format(se01=5))


@pytest.mark.parametrize("op", ["replace", "merge"])
def test_amazon_reads_the_quantity_of_the_published_patch(op: str) -> None:
    patch = {"productType": "HOME_BED_AND_BATH", "patches": [{
        "op": op, "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 10}]}]}
    assert amazon_wire.requested_quantity(patch) == 10


def _amazon_listing(lead_time: int = 3) -> Any:
    sim = AmazonSimulator(SimConfig("amazon", AmazonSimulator.demo_credentials("amazon"), ["SHEET-Q-WHT"],
                                    options={"lead_time_to_ship_max_days": lead_time}))
    sim.listings_api.availability["SHEET-Q-WHT"]["restock_date"] = "2026-02-01"
    return sim


@pytest.mark.parametrize(("op", "kept"), [
    ("merge", {"lead_time_to_ship_max_days": 3, "restock_date": "2026-02-01"}),   # only the quantity changes
    ("replace", {}),                                                              # the whole entry is the value
])
def test_amazon_applies_the_published_quantity_patch_with_the_ops_meaning(op: str, kept: dict[str, Any]) -> None:
    sim = _amazon_listing()
    patch = {"productType": "HOME_BED_AND_BATH", "patches": [{
        "op": op, "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 10}]}]}
    assert sim.listings_api.apply("SHEET-Q-WHT", patch) == []
    assert (sim.listings["SHEET-Q-WHT"], sim.listings_api.availability["SHEET-Q-WHT"]) == (10, kept)


@pytest.mark.parametrize("bad", [{"op": "upsert"}, {"value": [{"fulfillment_channel_code": "DEFAULT",
                                                              "quantity": 1, "handling_days": 2}]},
                                 {"value": [{"fulfillment_channel_code": "DEFAULT", "quantity": -1}]}])
def test_amazon_refuses_an_unknown_op_or_field_or_a_negative_quantity(bad: dict[str, Any]) -> None:
    sim = _amazon_listing()
    patch = {"op": "merge", "path": "/attributes/fulfillment_availability",
             "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}], **bad}
    [issue] = sim.listings_api.apply("SHEET-Q-WHT", {"productType": "HOME_BED_AND_BATH", "patches": [patch]})
    assert issue["severity"] == "ERROR"
    assert sim.listings["SHEET-Q-WHT"] == 0


def test_shopify_takes_the_published_inventory_set_quantities_input() -> None:
    given = {"name": "available", "reason": "correction", "quantities": [{
        "inventoryItemId": "gid://shopify/InventoryItem/30322695", "locationId": "gid://shopify/Location/124656943",
        "quantity": 11, "changeFromQuantity": None}]}
    checked = shopify_wire.SetQuantities({30322695: "SKU"}, {124656943}, lambda _i, _l: 0).check(given)
    assert (checked.changes, checked.errors) == ([(30322695, 124656943, 11)], [])


def test_shopify_refuses_a_stale_change_from_quantity() -> None:
    given = {"name": "available", "reason": "correction", "quantities": [{
        "inventoryItemId": "gid://shopify/InventoryItem/1", "locationId": "gid://shopify/Location/2",
        "quantity": 11, "changeFromQuantity": 4}]}
    checked = shopify_wire.SetQuantities({1: "SKU"}, {2}, lambda _i, _l: 5).check(given)
    assert [error["code"] for error in checked.errors] == ["CHANGE_FROM_QUANTITY_STALE"]


def test_square_takes_quantities_only_as_decimal_strings() -> None:
    assert square_wire.counted_units("53") == 53
    assert square_wire.counted_units(53) is None
    assert square_wire.counted_units("-1") is None


def test_the_distributor_writes_the_published_850_line_for_an_item_it_knows_by_all_three_ids() -> None:
    ids = [("VP", "SHEET-Q-WHT"), ("BP", "DIST-4471"), ("UP", "012345678905")]
    text = edi.purchase_order_file(edi.Party("DISTRIBUTOR"), edi.Party("THREADCOUNT"), 31, datetime(2026, 4, 27, 9, 15),
                                   ("00", "PO-10001"), [(10, "3.50", ids)])
    assert text == SAMPLE_850
