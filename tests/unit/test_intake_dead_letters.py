"""sync/intake: an order that can never apply as it stands is set aside as a dead letter, before it
reaches a shard, and the events after it are taken all the same."""

from __future__ import annotations

from connectors.base import OrderEventKind
from sync.dead_letters import event_from, event_json
from sync.intake import MAX_LINE_QUANTITY
from tests.unit.test_intake import event, make

CREATED = OrderEventKind.CREATED


async def test_a_quantity_over_the_rest_cap_never_reaches_a_shard_and_the_next_order_is_taken() -> None:
    intake, desk, _ = make()
    over = event(CREATED, "S-1", ("DUVET-Q", MAX_LINE_QUANTITY + 1))
    report = await intake.take([over, event(CREATED, "S-2", ("DUVET-Q", 1))])
    assert [call[2] for call in desk.calls] == ["S-2"]
    assert [(e.order_id, "quantity 1000000001" in why) for e, why in report.dead] == [("S-1", True)]
    assert report.applied == 1


async def test_a_line_without_a_sku_or_with_a_negative_quantity_makes_the_whole_order_a_dead_letter() -> None:
    intake, desk, _ = make()
    report = await intake.take([event(CREATED, "S-3", ("DUVET-Q", 1), ("", 1)),
                                event(CREATED, "S-4", ("DUVET-Q", -1))])
    assert desk.calls == []
    assert [e.order_id for e, _ in report.dead] == ["S-3", "S-4"]
    assert "line 2 is malformed" in report.dead[0][1]


async def test_an_order_of_skus_we_do_not_carry_is_a_dead_letter_beside_its_alert() -> None:
    intake, desk, alerts = make()
    report = await intake.take([event(CREATED, "S-5", ("PILLOW-NOPE", 1))])
    assert [(e.order_id, why) for e, why in report.dead] == [("S-5", "no line we know: PILLOW-NOPE not in the catalog")]
    assert [kind for kind, _, _ in alerts.raised] == ["unknown_sku"]
    assert desk.calls == []


def test_a_kept_event_reads_back_as_the_same_event() -> None:
    kept = event(CREATED, "S-6", ("DUVET-Q", 2), ("", -1))
    assert event_from(event_json(kept)) == kept
